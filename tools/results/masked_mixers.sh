#!/usr/bin/env bash
# Reproduces docs/results/masked-mixers.md on the built-in story corpus (byte tokenizer, CPU):
#   1. a Llama-style transformer, a flat masked mixer and the transformer-mixer hybrid of about the same
#      parameter count (1.1-1.2M) train on the same tokens for the same steps; validation loss over the whole
#      val split (weft eval);
#   2. training throughput of a mixer and a transformer of the same width and depth at L = 512 (weft bench);
#   3. peak memory of a training step against the context length (weft bench, peak RSS);
#   4. retrieval (spec A.10): each LM's embeddings of the corpus's summary/story pairs, a retrieval mixer over
#      N = 32 slots trained on them, top-1 accuracy on the val pairs (chance 1/31);
#   5. representation accuracy (spec A.9) of each LM: top-5 Hamming of input recovery, 10 stories, 500 steps.
#   6. optional, with RETRIEVAL_LM=RUN (e.g. a SentencePiece mixer trained with --pack padded): retrieval v1 at
#      N = 32 and 128 on that LM's frozen embeddings (the addendum of 2026-12-03 on the results page).
# Usage: tools/results/masked_mixers.sh [WORK_DIR] [STEPS] [THREADS]; writes WORK_DIR/results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${1:-runs/masked-mixers}
steps=${2:-1000}
threads=${3:-$(nproc)}
weft=${WEFT:-build/cpu/weft}
mkdir -p "$work"
[ -f "$work/data/train.bin" ] || $weft prepare --builtin stories --out "$work/data" --tokens 4000000 >/dev/null

common=(--data "$work/data" --seq-len 128 --batch-size 16 --steps "$steps" --lr 2e-3 --min-lr 2e-4 --warmup 50
        --weight-decay 0 --beta2 0.999 --eval-every 250 --eval-batches 8 --log-every 50 --threads "$threads" --seed 7)
declare -A model_flags=(
  [transformer]="--model transformer --position rope --norm rmsnorm --norm-eps 1e-6 --activation swiglu --bias false --tie-embeddings false --d-model 128 --n-layers 4 --n-heads 4"
  [mixer]="--model mixer --d-model 128 --n-layers 7"
  [hybrid]="--model hybrid --d-model 128 --n-layers 4 --n-heads 4 --norm-eps 1e-6"
)
out="$work/results.md"
{
  echo "## Language modelling: ${steps} steps x 16 x 128 tokens, byte tokenizer"
  echo
  echo "| model | parameters | val loss (nats/byte) | train tok/s (this run, $threads threads) |"
  echo "|---|---|---|---|"
} > "$out"
for name in transformer mixer hybrid; do
  run="$work/$name"
  if [ ! -f "$run/checkpoints/latest" ]; then
    # shellcheck disable=SC2086
    $weft train ${model_flags[$name]} "${common[@]}" --out "$run" > "$work/$name.log"
  fi
  params=$(sed -n 's/^model [a-z]*: \([0-9]*\) parameters.*/\1/p' "$work/$name.log")
  val=$($weft eval --checkpoint "$run" --threads "$threads" | sed -n 's/.*"loss": \([0-9.e+-]*\).*/\1/p')
  tps=$(grep '"tokens_per_s"' "$run/metrics.jsonl" | tail -n 10 | sed -n 's/.*"tokens_per_s": \([0-9.e+]*\).*/\1/p' |
        awk '{s += $1} END {printf "%.0f", s / NR}')
  printf "| %s | %s | %.4f | %s |\n" "$name" "$params" "$val" "$tps" >> "$out"
done

{
  echo
  echo "## Training throughput at L = 512 (weft bench, d-model 128, 4 layers, batch 4, V = 257)"
  echo
  echo "| model | tokens/s | ms/step | peak RSS (MB) |"
  echo "|---|---|---|---|"
} >> "$out"
bench=(--seq-len 512 --batch-size 4 --vocab-size 257 --steps 6 --warmup-steps 2 --threads "$threads")
for name in transformer mixer; do
  flags=${model_flags[$name]/--n-layers 7/--n-layers 4}
  # shellcheck disable=SC2086
  line=$($weft bench $flags "${bench[@]}")
  tps=$(echo "$line" | sed -n 's/^ *\([0-9]*\) tokens\/s, \([0-9.]*\) ms\/step.*/\1/p')
  ms=$(echo "$line" | sed -n 's/^ *[0-9]* tokens\/s, \([0-9.]*\) ms\/step.*/\1/p')
  mem=$(echo "$line" | sed -n 's/.*peak memory \([0-9]*\) MB.*/\1/p')
  echo "| $name | $tps | $ms | $mem |" >> "$out"
done

{
  echo
  echo "## Peak memory of a training step against the context length (weft bench, batch 1, d-model 128, 4 layers)"
  echo
  echo "| L | transformer RSS (MB) | mixer RSS (MB) |"
  echo "|---|---|---|"
} >> "$out"
for L in 256 512 1024 2048; do
  row="| $L"
  for name in transformer mixer; do
    flags=${model_flags[$name]/--n-layers 7/--n-layers 4}
    # shellcheck disable=SC2086
    mem=$($weft bench $flags --seq-len "$L" --batch-size 1 --vocab-size 257 --steps 2 --warmup-steps 1 \
          --threads "$threads" | sed -n 's/.*peak memory \([0-9]*\) MB.*/\1/p')
    row="$row | $mem"
  done
  echo "$row |" >> "$out"
done
{
  echo
  echo "## Retrieval at N = 32 (summary -> story; weft embed, weft retrieval train --steps 1500 --layers 4 --lr 1e-3)"
  echo
  echo "| embedding model | val accuracy | val loss | chance |"
  echo "|---|---|---|---|"
} >> "$out"
for name in transformer mixer hybrid; do
  emb="$work/$name.emb.h5"
  [ -f "$emb" ] || $weft embed --checkpoint "$work/$name" --pairs "$work/data/pairs.jsonl" --out "$emb" \
                     --threads "$threads" > /dev/null
  [ -f "$work/ret_$name/checkpoints/latest" ] ||
    $weft retrieval train --embeddings "$emb" --candidates 32 --out "$work/ret_$name" --steps 1500 --layers 4 \
      --lr 1e-3 --threads "$threads" > "$work/ret_$name.log"
  line=$($weft retrieval eval --checkpoint "$work/ret_$name" --embeddings "$emb" --candidates 32 --threads "$threads")
  acc=$(echo "$line" | sed -n 's/.*"accuracy": \([0-9.e+-]*\).*/\1/p')
  loss=$(echo "$line" | sed -n 's/.*"loss": \([0-9.e+-]*\).*/\1/p')
  printf "| %s | %.3f | %.3f | %.3f |\n" "$name" "$acc" "$loss" "$(echo "1/31" | bc -l)" >> "$out"
done

{
  echo
  echo "## Representation accuracy (weft analyze represent: 10 val stories, 500 descent steps, top-5 Hamming)"
  echo
  echo "| model | Hamming (lower is better) |"
  echo "|---|---|"
} >> "$out"
for name in transformer mixer hybrid; do
  h=$($weft analyze represent --checkpoint "$work/$name" --threads "$threads" 2>/dev/null |
      sed -n 's/.*"hamming": \([0-9.e+-]*\).*/\1/p')
  printf "| %s | %.3f |\n" "$name" "$h" >> "$out"
done
if [ -n "${RETRIEVAL_LM:-}" ]; then
  pairs="$(sed -n 's/^data = //p' "$RETRIEVAL_LM/config.ini")/pairs.jsonl"
  emb="$work/retrieval_lm.emb.h5"
  [ -f "$emb" ] || $weft embed --checkpoint "$RETRIEVAL_LM" --pairs "$pairs" --out "$emb" --threads "$threads" > /dev/null
  {
    echo
    echo "## Retrieval v1 on $RETRIEVAL_LM (weft retrieval train --layers 8 --lr 1e-4 --warmup 100)"
    echo
    echo "| N | steps x batch | val accuracy | val loss | chance |"
    echo "|---|---|---|---|---|"
  } >> "$out"
  for nb in "32 1200 128" "128 600 32"; do
    read -r n s b <<< "$nb"
    [ -f "$work/ret_lm$n/checkpoints/latest" ] ||
      $weft retrieval train --embeddings "$emb" --candidates "$n" --layers 8 --lr 1e-4 --batch-size "$b" --warmup 100 \
        --steps "$s" --eval-every 300 --log-every 50 --out "$work/ret_lm$n" --threads "$threads" > "$work/ret_lm$n.log"
    line=$($weft retrieval eval --checkpoint "$work/ret_lm$n" --embeddings "$emb" --candidates "$n" --threads "$threads")
    acc=$(echo "$line" | sed -n 's/.*"accuracy": \([0-9.e+-]*\).*/\1/p')
    loss=$(echo "$line" | sed -n 's/.*"loss": \([0-9.e+-]*\).*/\1/p')
    printf "| %s | %s x %s | %.3f | %.3f | %.4f |\n" "$n" "$s" "$b" "$acc" "$loss" "$(echo "1/($n-1)" | bc -l)" >> "$out"
  done
fi
cat "$out"
