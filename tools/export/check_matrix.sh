#!/usr/bin/env bash
# Export check matrix: trains tiny transformers on the built-in story corpus, one per configuration that the
# reference has to honour, and runs tools/export/check_export.py on each (all validation windows, 1e-5 relative).
# Runs are trained from inside WORK with a relative --data, and checked from the repository root, so the
# check's resolution of a relative stored data path is exercised too. Prints a Markdown table; exit 1 if any
# configuration fails.
#
#   tools/export/check_matrix.sh [WEFT_BINARY (build/cpu/weft)] [WORK (a new temporary folder)]
#   needs /usr/bin/python3 with h5py, numpy and torch (Debian: apt-get install -y python3-h5py python3-torch)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
weft=$(realpath "${1:-$repo/build/cpu/weft}")
work=${2:-$(mktemp -d /tmp/weft-export-matrix.XXXXXX)}
mkdir -p "$work"
work=$(realpath "$work")
steps=${STEPS:-30}

mkdir -p "$work/runs"
[ -f "$work/stories/val.bin" ] || (cd "$work" && "$weft" prepare --builtin stories --out stories >/dev/null)

# name | training flags (default size: --d-model 32 --n-layers 2 --n-heads 2) | check flags (T = 32)
configs=(
  "learned|--position learned|"
  "bias off|--position learned --bias false|"
  "RoPE base 500, fraction 0.5|--position rope --rope-base 500 --rope-fraction 0.5|"
  "RoPE, eval at 2T|--position rope|--seq-len 64"
  "RMSNorm|--position rope --norm rmsnorm|"
  "SwiGLU|--position rope --activation swiglu --d-ff 48|"
  "ReLU, sinusoidal|--position sinusoidal --activation relu|"
  "untied embeddings|--position learned --tie-embeddings false|"
  "ALiBi, eval at 2T|--position alibi|--seq-len 64"
  "Sandwich, eval at 2T|--position sandwich --sandwich-dim 16|--seq-len 64"
  "no positions, dropout 0.1|--position none --dropout 0.1|"
  "RoPE fraction 0.84 of HS 150|--position rope --rope-fraction 0.84 --d-model 150 --n-heads 1 --n-layers 1|"  # 126 rotated channels
)

echo "| configuration | windows x T | reference loss | weft eval loss | rel diff | |"
echo "|---|---|---|---|---|---|"
failed=0
i=0
for c in "${configs[@]}"; do
  IFS='|' read -r name train_flags check_flags <<<"$c"
  run="runs/m$i"
  i=$((i + 1))
  rm -rf "${work:?}/$run"
  size="--d-model 32 --n-layers 2 --n-heads 2"
  [[ $train_flags == *--d-model* ]] && size=""
  # shellcheck disable=SC2086
  (cd "$work" && "$weft" train --data stories --out "$run" $size --seq-len 32 \
    --steps "$steps" --batch-size 8 --lr 3e-3 --warmup 5 --eval-every 0 --threads 1 --device cpu $train_flags \
    >"$run.log" 2>&1) || { echo "| $name | training failed: $work/$run.log | | | | FAIL |"; failed=1; continue; }
  # shellcheck disable=SC2086
  if out=$(cd "$repo" && /usr/bin/python3 tools/export/check_export.py --checkpoint "$work/$run" --weft "$weft" \
           --json $check_flags 2>&1); then verdict=ok; else verdict=FAIL; failed=1; fi
  js=$(grep '^{' <<<"$out" || true)
  if [ -z "$js" ]; then
    echo "| $name | $(tail -1 <<<"$out") | | | | $verdict |"
    continue
  fi
  /usr/bin/python3 - "$js" "$name" "$verdict" <<'PY'
import json, sys
r, name, verdict = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
print(f"| {name} | {r['windows']} x {r['seq_len']} | {r['reference_loss']:.8f} | {r['weft_loss']:.8f} | "
      f"{r['rel_diff']:.1e} | {verdict} |")
PY
done
exit $failed
