#!/usr/bin/env bash
# Reproduces docs/results/moeut.md on the built-in story corpus (byte tokenizer, CPU):
#   1. MoEUT (G = 2 shared groups, peri-LN) against the parameter-matched dense pre-LN RoPE baseline of spec
#      moeut.md A.7 (ReLU FFN with bias, attention without bias, untied head with bias, --init scaled), same
#      tokens and steps, the paper's optimiser recipe (A.8) at a small-model learning rate; ablations at the
#      same size: G = 1 (one layer applied 4 times, N_A 4 -> 8 and N_E 32 -> 68 keep the parameter count) and pre-LN.
#      Validation loss over the whole val split (weft eval), train tokens/s of the run.
#   2. weft bench of each model at T = 128: tokens/s, MACs per token (A.7 formulas), peak RSS.
# Usage: tools/results/moeut.sh [WORK_DIR] [STEPS] [THREADS]; writes WORK_DIR/results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-runs/moeut}
steps=${2:-600}
threads=${3:-$(nproc)}
weft=${WEFT:-build/cpu/weft}
mkdir -p "$work"
[ -f "$work/data/train.bin" ] || $weft prepare --builtin stories --out "$work/data" --tokens 4000000 >/dev/null

common=(--data "$work/data" --seq-len 128 --batch-size 16 --steps "$steps" --lr 2e-3 --min-lr 2e-4 --warmup 50
        --weight-decay 0.01 --beta2 0.999 --clip 0.25 --eval-every 200 --eval-batches 8 --log-every 50
        --threads "$threads" --seed 7)
moe="--model moeut --d-model 128 --n-layers 4 --n-heads 4 --head-dim 32 --att-top-k 2 --expert-size 32 --top-k 4"
declare -A model_flags=(
  [moeut]="$moe --n-groups 2 --att-experts 4 --n-experts 32"
  [moeut_g1]="$moe --n-groups 1 --att-experts 8 --n-experts 68"
  [moeut_pre]="$moe --n-groups 2 --att-experts 4 --n-experts 32 --norm-layout pre"
  [dense]="--model transformer --d-model 128 --n-layers 4 --n-heads 4 --d-ff 588 --position rope --rope-fraction 0.5 --activation relu --norm layernorm --attn-bias false --ffn-bias true --tie-embeddings false --head-bias true --init scaled --decay-all"
)
# NAMES: the runs to train and report (default all); BENCH=0 skips the bench section. Trainings already
# finished (a checkpoint in WORK_DIR/NAME) are not repeated, so parallel invocations can share the work.
read -r -a names <<< "${NAMES:-dense moeut moeut_g1 moeut_pre}"
out="$work/results${NAMES:+_${NAMES// /_}}.md"
{
  echo "## Language modelling: ${steps} steps x 16 x 128 tokens, byte tokenizer, $threads threads"
  echo
  echo "| model | parameters | val loss (nats/byte) | final train ce | final reg | train tok/s |"
  echo "|---|---|---|---|---|---|"
} > "$out"
for name in "${names[@]}"; do
  run="$work/$name"
  if [ ! -f "$run/checkpoints/latest" ]; then
    # shellcheck disable=SC2086
    $weft train ${model_flags[$name]} "${common[@]}" --out "$run" > "$work/$name.log"
  fi
  params=$(sed -n 's/^model [a-z]*: \([0-9]*\) parameters.*/\1/p' "$work/$name.log" | head -n 1)
  val=$($weft eval --checkpoint "$run" --threads "$threads" | sed -n 's/.*"loss": \([0-9.e+-]*\).*/\1/p')
  last=$(grep '"loss"' "$run/metrics.jsonl" | grep -v val_loss | tail -n 1)
  ce=$(echo "$last" | sed -n 's/.*"ce": \([0-9.e+-]*\).*/\1/p')
  reg=$(echo "$last" | sed -n 's/.*"reg": \([0-9.e+-]*\).*/\1/p')
  tps=$(grep '"tokens_per_s"' "$run/metrics.jsonl" | tail -n 10 | sed -n 's/.*"tokens_per_s": \([0-9.e+]*\).*/\1/p' |
        awk '{s += $1} END {printf "%.0f", s / NR}')
  printf "| %s | %s | %.4f | %s | %s | %s |\n" "$name" "$params" "$val" "${ce:--}" "${reg:--}" "$tps" >> "$out"
done

[ "${BENCH:-1}" = 1 ] || { cat "$out"; exit 0; }
{
  echo
  echo "## weft bench at T = 128, batch 16, V = 257 ($threads threads)"
  echo
  echo "| model | tokens/s | ms/step | MACs/token (A.7) | peak RSS (MB) |"
  echo "|---|---|---|---|---|"
} >> "$out"
for name in "${names[@]}"; do
  # shellcheck disable=SC2086
  text=$($weft bench ${model_flags[$name]} --seq-len 128 --batch-size 16 --vocab-size 257 --steps 6 --warmup-steps 2 \
         --threads "$threads")
  tps=$(echo "$text" | sed -n 's/^ *\([0-9]*\) tokens\/s, \([0-9.]*\) ms\/step.*/\1/p')
  ms=$(echo "$text" | sed -n 's/^ *[0-9]* tokens\/s, \([0-9.]*\) ms\/step.*/\1/p')
  macs=$(echo "$text" | sed -n 's/.*MACs\/token[^:]*: *\([0-9.e+]*\).*/\1/p')
  mem=$(echo "$text" | sed -n 's/.*peak memory \([0-9]*\) MB.*/\1/p')
  echo "| $name | $tps | $ms | ${macs:--} | $mem |" >> "$out"
done
$weft plot "$work/dense" "$work/moeut" "$work/moeut_g1" "$work/moeut_pre" --val-only --output "$work/val_loss.svg" \
  --title "MoEUT vs dense, validation loss (nats/byte)" > /dev/null
cat "$out"
