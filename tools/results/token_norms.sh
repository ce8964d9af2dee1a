#!/usr/bin/env bash
# Reproduces docs/results/token-norms.md on the built-in story corpus (byte tokenizer, CPU): a RoPE transformer
# and a flat masked mixer (d 128, 4 layers, T = 128, 1000 steps x 16 x 128 tokens, seed 1) train with the
# token-representation norms recorded every 50 steps (RUN/norms.h5) and log-spaced checkpoints kept
# (--save-every 10 --keep-log-spaced: steps 10, 20, 40, ..., 640 and the last two); then `weft analyze norms
# --all-checkpoints` measures every kept checkpoint again on the same held-out batch (plots in WORK/<model>_analysis)
# and token_norms_table.py (needs python3-h5py) prints the tables of the page.
# Usage: tools/results/token_norms.sh [WORK_DIR]; finished trainings are kept. THREADS (default 1) per process.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-runs/norms}
weft=${WEFT:-build/cpu/weft}
threads=${THREADS:-1}
data=${DATA:-runs/data/stories}
mkdir -p "$work"
[ -f "$data/train.bin" ] || $weft prepare --builtin stories --out "$data" --tokens 4000000 >/dev/null

common=(--data "$data" --d-model 128 --n-layers 4 --seq-len 128 --batch-size 16 --steps 1000 --warmup 50
        --eval-every 250 --eval-batches 16 --log-every 50 --seed 1 --threads "$threads"
        --log-norms-every 50 --save-every 10 --keep-checkpoints 2 --keep-log-spaced)
declare -A model_flags=(
  [transformer]="--model transformer --n-heads 4 --position rope --lr 3e-3 --min-lr 3e-4"
  [mixer]="--model mixer --lr 2e-3 --min-lr 2e-4"
)
for m in transformer mixer; do
  run="$work/$m"
  if [ ! -f "$run/checkpoints/latest" ]; then
    rm -rf "$run"
    # shellcheck disable=SC2086
    $weft train "${common[@]}" ${model_flags[$m]} --out "$run" > "$run.log" 2>&1
  fi
  mkdir -p "$work/${m}_analysis"
  $weft analyze norms --checkpoint "$run" --all-checkpoints --out "$work/${m}_analysis/norms.h5" \
    --plot-dir "$work/${m}_analysis" --threads "$threads" > "$work/${m}_analysis/norms.jsonl"
done
/usr/bin/python3 tools/results/token_norms_table.py "transformer (training log)=$work/transformer/norms.h5" \
  "mixer (training log)=$work/mixer/norms.h5"
