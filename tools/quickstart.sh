#!/usr/bin/env bash
# The README's first command: on a fresh machine, install what is missing, build weft (CPU backend),
# generate the built-in story corpus, train a small transformer for about two minutes on 2 MPI ranks,
# save a checkpoint, then print the final validation loss and a sample.
# Environment: RANKS (default 2), STEPS (default 1500), RUN (default runs/quickstart).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build/cpu -G Ninja -DWEFT_CUDA=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/cpu -j "$(nproc)" --target weft

RANKS=${RANKS:-2}
STEPS=${STEPS:-1500}
RUN=${RUN:-runs/quickstart}
DATA=runs/data/stories
[ -f "$DATA/train.bin" ] || build/cpu/weft prepare --builtin stories --out "$DATA" --tokens 4000000

mpi_flags=(--oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && mpi_flags+=(--allow-run-as-root)
threads=$(( $(nproc) / RANKS )); (( threads >= 1 )) || threads=1
rm -rf "$RUN"
mpirun -np "$RANKS" "${mpi_flags[@]}" build/cpu/weft train --data "$DATA" --out "$RUN" \
  --d-model 128 --n-layers 4 --n-heads 4 --seq-len 128 --position rope --batch-size 8 --steps "$STEPS" \
  --lr 3e-3 --min-lr 3e-4 --warmup 100 --eval-every 250 --eval-batches 16 --log-every 50 --threads "$threads"

echo
echo "== sample (weft sample --checkpoint $RUN --prompt 'Once upon a time') =="
build/cpu/weft sample --checkpoint "$RUN" --prompt "Once upon a time" --max-new-tokens 300 --temperature 0.7
build/cpu/weft plot "$RUN"
echo "metrics: $RUN/metrics.jsonl   loss curves: $RUN/loss.svg   checkpoint: $RUN/checkpoints/latest"
