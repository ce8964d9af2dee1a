#!/usr/bin/env bash
# Reproduces docs/results/infinite-memory.md (issue 14; spec infinite-memory.md B.9-B.11) on CPU:
#   1. time and peak memory per segment against the total context (weft bench --segments K): the
#      infinity-former (GPT-2 integration, memory on) with 0, 1, 2, 4, 8, 16 segments of history vs a plain
#      transformer of the same width and depth attending to the whole context ((history + 1) x T tokens);
#   2. the sorting task (weft prepare --builtin sorting) at S = 490, 1002, 2026 (examples of 512, 1024, 2048
#      tokens = 4, 8, 16 segments of T = 128), three models on the same segments: STM only (Transformer-XL
#      style, --integration xl --ltm-layers none), STM + LTM uniform, STM + LTM sticky; weft eval --pack
#      segments accuracy / sequence_accuracy on the val examples;
#   3. long-document language modelling on Debian-shipped long texts (ten .txt.gz manuals from /usr/share/doc,
#      one document each; val = libpng-manual.txt), memory off vs memory on (sticky), weft eval --pack segments.
# Usage: tools/results/infinite_memory.sh [WORK_DIR] [STEPS] [JOBS]; writes WORK_DIR/results.md.
# Every weft command runs with --threads 1; JOBS training runs go at once (default 2: one per core).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-runs/infinite-memory}
steps=${2:-800}
jobs=${3:-2}
weft=${WEFT:-build/cpu/weft}
mkdir -p "$work"
out="$work/results.md"
: > "$out"

# ---------------------------------------------------------------------------------------------------------
# 1. Time and memory per segment against the total context.
bench_common=(--d-model 128 --n-layers 4 --n-heads 4 --vocab-size 257 --batch-size 4 --steps 8 --warmup-steps 2
              --threads 1)
{
  echo "## Time and peak memory per segment against the total context (weft bench, T = 128, batch 4, d 128, 4 layers, 1 thread)"
  echo
  echo "| history (segments) | context (tokens) | infinite: ms / segment (last) | infinite: peak RSS (MB) | transformer over the whole context: ms / step | transformer: peak RSS (MB) |"
  echo "|---|---|---|---|---|---|"
} >> "$out"
for h in 0 1 2 4 8 16; do
  K=$((h + 1)); L=$((K * 128))
  inf=$($weft bench --model infinite "${bench_common[@]}" --seq-len 128 --segments "$K" --json "$work/bench.jsonl")
  ims=$(echo "$inf" | sed -n 's/.*last segment ([0-9]* of history) \([0-9.]*\) ms\/segment.*/\1/p')
  imem=$(echo "$inf" | sed -n 's/.*peak memory \([0-9]*\) MB.*/\1/p')
  tr=$($weft bench --model transformer "${bench_common[@]}" --seq-len "$L" --json "$work/bench.jsonl")
  tms=$(echo "$tr" | sed -n 's/^ *[0-9]* tokens\/s, \([0-9.]*\) ms\/step.*/\1/p')
  tmem=$(echo "$tr" | sed -n 's/.*peak memory \([0-9]*\) MB.*/\1/p')
  echo "| $h | $L | $ims | $imem | $tms | $tmem |" >> "$out"
done

# ---------------------------------------------------------------------------------------------------------
# Training runs (sections 2 and 3), JOBS at once.
declare -a names=() flags=() datas=()
add_run() { names+=("$1"); datas+=("$2"); flags+=("$3"); }

sort_model="--model infinite --integration xl --d-model 64 --n-layers 2 --n-heads 4 --ltm-basis 128 --ltm-samples 128
            --ltm-widths 0.01,0.05 --ltm-tau 0.75 --ltm-ridge 1.0 --ltm-sigma-floor 1e-6"
lengths=(490 1002 2026)
for S in "${lengths[@]}"; do
  [ -f "$work/sort$S/train.bin" ] ||
    $weft prepare --builtin sorting --sequence-length "$S" --examples 1000 --out "$work/sort$S" > /dev/null
  add_run "sort$S-stm" "$work/sort$S" "$sort_model --ltm-layers none"
  add_run "sort$S-uniform" "$work/sort$S" "$sort_model --ltm-sticky false"
  add_run "sort$S-sticky" "$work/sort$S" "$sort_model --ltm-sticky true"
done

# Long texts shipped by Debian packages (x11proto-dev, libslang2, libpng-dev, sed, libjpeg62-turbo-dev, ...):
# one document per file, in name order; --val-fraction 0.1 of 10 documents sends the 10th (09_*) to val.
docs=(xproto/x11protocol kbproto/xkbproto libslang2/slang libslang2/slangfun sed/sedfaq
      libjpeg62-turbo-dev/libjpeg fontsproto/fsproto x11proto-dev/randrproto xextproto/lbx libpng16-16/libpng-manual)
if [ ! -f "$work/lm/train.bin" ]; then
  mkdir -p "$work/lm-text"
  i=0
  for d in "${docs[@]}"; do
    zcat "/usr/share/doc/$d.txt.gz" > "$work/lm-text/0${i}_$(basename "$d").txt"
    i=$((i + 1))
  done
  $weft prepare --input "$work/lm-text" --out "$work/lm" --val-fraction 0.1 > /dev/null
fi
lm_model="--model infinite --d-model 64 --n-layers 2 --n-heads 4 --vocab-size 257 --ltm-basis 128 --ltm-samples 128"
add_run "lm-off" "$work/lm" "$lm_model --ltm-layers none"
add_run "lm-sticky" "$work/lm" "$lm_model --ltm-sticky true"
add_run "lm-xl" "$work/lm" "$lm_model --integration xl --ltm-layers none"       # Transformer-XL STM only
add_run "lm-xl-sticky" "$work/lm" "$lm_model --integration xl --ltm-sticky true"  # STM + LTM (the paper's model)

train_common=(--pack segments --seq-len 128 --batch-size 4 --steps "$steps" --lr 3e-3 --min-lr 3e-4 --warmup 50
              --weight-decay 0 --eval-every 0 --log-every 100 --threads 1 --seed 7)
train_one() {
  local i=$1 run="$work/${names[$1]}"
  [ -f "$run/checkpoints/latest" ] && return 0
  # shellcheck disable=SC2086
  $weft train ${flags[$i]} --data "${datas[$i]}" "${train_common[@]}" --out "$run" > "$work/${names[$i]}.log" 2>&1
}
running=0
for i in "${!names[@]}"; do
  train_one "$i" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
# The full-context baseline: a plain transformer of the same shape over 512-token windows (4 segments), the
# same tokens per step.
[ -f "$work/lm-full/checkpoints/latest" ] ||
  $weft train --model transformer --d-model 64 --n-layers 2 --n-heads 4 --vocab-size 257 --position rope \
    --data "$work/lm" --pack concat --seq-len 512 --batch-size 1 "${train_common[@]:6}" --out "$work/lm-full" \
    > "$work/lm-full.log" 2>&1

evaluate() {  # RUN -> the JSON line of weft eval over the whole val split, 4 streams of consecutive segments
  $weft eval --checkpoint "$work/$1" --pack segments --batch-size 4 --threads 1
}
field() { echo "$1" | sed -n "s/.*\"$2\": \([0-9.e+-]*\).*/\1/p"; }

# ---------------------------------------------------------------------------------------------------------
# 2. Sorting accuracy against the sequence length.
{
  echo
  echo "## Sorting: accuracy on the val examples against the sequence length ($steps steps x 4 streams x 128 tokens)"
  echo
  echo "| S (tokens) | segments / example | model | val loss | accuracy | sequence_accuracy | answers |"
  echo "|---|---|---|---|---|---|---|"
} >> "$out"
for S in "${lengths[@]}"; do
  for m in stm uniform sticky; do
    j=$(evaluate "sort$S-$m")
    printf "| %s | %s | %s | %.4f | %.4f | %.4f | %s |\n" "$S" $(((S + 22) / 128)) "$m" "$(field "$j" loss)" \
      "$(field "$j" accuracy)" "$(field "$j" sequence_accuracy)" "$(field "$j" sequences)" >> "$out"
  done
done

# ---------------------------------------------------------------------------------------------------------
# 3. Long-document perplexity with and without the memory.
{
  echo
  echo "## Long documents: val perplexity (bytes) of libpng-manual.txt, 4 streams of consecutive segments ($steps steps x 4 x 128 tokens)"
  echo
  echo "| model | val loss (nats/byte) | perplexity | tokens |"
  echo "|---|---|---|---|"
} >> "$out"
for m in off sticky xl xl-sticky; do
  j=$(evaluate "lm-$m")
  printf "| %s | %.4f | %.4f | %s |\n" "lm-$m" "$(field "$j" loss)" "$(field "$j" perplexity)" \
    "$(field "$j" tokens)" >> "$out"
done
j=$($weft eval --checkpoint "$work/lm-full" --seq-len 512 --threads 1)
printf "| %s | %.4f | %.4f | %s |\n" "lm-full (transformer, 512-token windows)" "$(field "$j" loss)" \
  "$(field "$j" perplexity)" "$(field "$j" tokens)" >> "$out"
cat "$out"
