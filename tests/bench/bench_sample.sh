#!/usr/bin/env bash
# weft sample with and without the decode cache (docs/benchmarks.md, "Sampling"): a randomly initialised
# transformer (d 384, 6 layers, 6 heads, seq-len 1024, learned positions, byte tokenizer; 11.1M parameters,
# trained one step) generates 1,000 tokens greedily after a 16-token prompt, with the cache and with
# --no-cache, at --threads 1 and 2. Prints wall and CPU seconds per run, the load average before each, and
# whether all four texts are identical.
# Usage: tests/bench/bench_sample.sh [weft binary (default build/cpu/weft)] [work folder (default a temp dir)]
set -euo pipefail
W=${1:-build/cpu/weft}
DIR=${2:-$(mktemp -d)}
N=${N:-1000}
[[ -d $DIR/data ]] || "$W" prepare --builtin stories --tokens 200000 --out "$DIR/data" > /dev/null
[[ -d $DIR/run ]] || "$W" train --data "$DIR/data" --out "$DIR/run" --d-model 384 --n-layers 6 --n-heads 6 \
  --seq-len 1024 --batch-size 1 --steps 1 --threads 2 --warmup 0 --eval-batches 1 > /dev/null
for th in 1 2; do
  for mode in cache no-cache; do
    flag=""; [[ $mode == no-cache ]] && flag="--no-cache"
    echo "load average before $mode --threads $th: $(cut -d' ' -f1-3 /proc/loadavg)"
    /usr/bin/time -f "$mode --threads $th: wall %e s, user %U s, sys %S s" "$W" sample --checkpoint "$DIR/run" \
      --prompt "Once upon a time" --max-new-tokens "$N" --temperature 0 --threads $th $flag > "$DIR/$mode.t$th.txt"
  done
done
for f in "$DIR"/*.t*.txt; do cmp -s "$DIR/cache.t1.txt" "$f" || echo "DIFFERENT: $f"; done
echo "texts compared: $(wc -c < "$DIR/cache.t1.txt") bytes each"
