#!/usr/bin/env bash
# Reproduces docs/results/length-extrapolation.md on the built-in story corpus (byte tokenizer, CPU):
#   1. trains transformers that differ only in their position scheme (sinusoidal, learned, rope, alibi,
#      sandwich, none, and no positions with a 32-token attention window: 4 layers x 32 = the training length),
#      d 128, 4 layers, 4 heads, T = 128, 500 steps x 16 x 128 tokens, seeds 1 2 3;
#   2. evaluates each at 128 ... 2048 (1x to 16x) on the first TOKENS tokens of the val split per length:
#      nonoverlap for every seed, sliding (stride L/2) for seed 1 (SLIDING_SEEDS to change);
#   3. the receptive field (32 windows, threshold 0.99) of seed 1 at 128, 512 and 2048;
#   4. plots: perplexity vs length per protocol (seeds as mean line over a min-max band), C(k) per scheme.
# Usage: tools/results/length_extrapolation.sh [WORK_DIR]; trainings and evaluations already done are kept
# (delete their outputs to redo them), so an interrupted run continues. THREADS (default 1) per process.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-runs/lx}
weft=${WEFT:-build/cpu/weft}
threads=${THREADS:-1}
tokens=${TOKENS:-65536}
read -r -a seeds <<< "${SEEDS:-1 2 3}"
read -r -a sliding_seeds <<< "${SLIDING_SEEDS:-1}"
read -r -a lengths <<< "128 256 512 1024 2048"
data=${DATA:-runs/data/stories}
mkdir -p "$work"
[ -f "$data/train.bin" ] || $weft prepare --builtin stories --out "$data" --tokens 4000000 >/dev/null

declare -A scheme_flags=(
  [sinusoidal]="--position sinusoidal" [learned]="--position learned" [rope]="--position rope"
  [alibi]="--position alibi" [sandwich]="--position sandwich" [none]="--position none"
  [window32]="--position none --attention-window 32"
)
read -r -a schemes <<< "${SCHEMES:-sinusoidal learned rope alibi sandwich none window32}"  # a subset or another
# order lets several invocations share the work

for seed in "${seeds[@]}"; do
  for s in "${schemes[@]}"; do
    run="$work/${s}_s${seed}"
    [ -f "$run/checkpoints/latest" ] && continue
    rm -rf "$run"
    # shellcheck disable=SC2086
    $weft train --data "$data" --out "$run" --d-model 128 --n-layers 4 --n-heads 4 --seq-len 128 ${scheme_flags[$s]} \
      --batch-size 16 --steps 500 --lr 3e-3 --min-lr 3e-4 --warmup 50 --eval-every 250 --eval-batches 16 \
      --log-every 50 --seed "$seed" --threads "$threads" > "$run.log" 2>&1
  done
done

# One model, one protocol: one weft eval per length so that every length scores the same first $tokens
# targets (batches of 4 windows; sliding windows add L/2 new targets each).
evaluate() {
  local run=$1 mode=$2 out=$3
  [ -s "$out" ] && return
  [ -e "$out.tmp" ] && return  # another invocation is on it (delete a stale .tmp after an interruption)
  : > "$out.tmp"
  for L in "${lengths[@]}"; do
    local per_window=$L extra=()
    if [ "$mode" = sliding ]; then per_window=$((L / 2)); extra=(--stride $((L / 2))); fi
    local batches=$(( (tokens + 4 * per_window - 1) / (4 * per_window) ))
    $weft eval --checkpoint "$run" --lengths "$L" --mode "$mode" "${extra[@]}" --batch-size 4 --batches "$batches" \
      --threads "$threads" 2>/dev/null >> "$out.tmp" || true  # a length the model cannot run prints its error line
  done
  mv "$out.tmp" "$out"
}

for s in "${schemes[@]}"; do
  for seed in "${seeds[@]}"; do evaluate "$work/${s}_s${seed}" nonoverlap "$work/eval_${s}_s${seed}_nonoverlap.jsonl"; done
  for seed in "${sliding_seeds[@]}"; do evaluate "$work/${s}_s${seed}" sliding "$work/eval_${s}_s${seed}_sliding.jsonl"; done
  rf="$work/receptive_${s}_s1.h5"
  if [ ! -f "$rf" ] && [ ! -e "$rf.started" ]; then
    touch "$rf.started"
    $weft analyze receptive-field --checkpoint "$work/${s}_s1" --lengths 128,512,2048 --sequences 32 --out "$rf" \
      --plot "$work/receptive_${s}_s1.svg" --threads "$threads" > "$work/receptive_${s}_s1.jsonl" 2>/dev/null || true
    rm -f "$rf.started"
  fi
done

groups=()
for s in "${schemes[@]}"; do
  files=$(printf "$work/eval_${s}_s%s_nonoverlap.jsonl," "${seeds[@]}")
  groups+=("$s=${files%,}")
done
$weft plot --eval "${groups[@]}" --train-length 128 --output "$work/ppl_nonoverlap.svg" \
  --title "perplexity vs evaluation length, nonoverlap (trained at 128; mean and min-max of ${#seeds[@]} seeds)"
sliding=()
for s in "${schemes[@]}"; do sliding+=("$s=$work/eval_${s}_s${sliding_seeds[0]}_sliding.jsonl"); done
$weft plot --eval "${sliding[@]}" --train-length 128 --output "$work/ppl_sliding.svg" \
  --title "perplexity vs evaluation length, sliding stride L/2 (trained at 128; seed ${sliding_seeds[0]})"
echo "results in $work: eval_*.jsonl, receptive_*.{h5,jsonl,svg}, ppl_nonoverlap.svg, ppl_sliding.svg"
