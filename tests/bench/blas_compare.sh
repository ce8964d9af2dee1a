#!/usr/bin/env bash
# The CPU GEMM libraries in one sitting (docs/cpu-blas.md):
# 1. sgemm GFLOP/s on the linear layer's three shapes (tests/bench/blas_compare.cpp): OpenBLAS (the OpenMP
#    build weft links) with its own kernel choice, with OPENBLAS_CORETYPE=SkylakeX and =Haswell, BLIS when
#    installed, oneDNN's dnnl_sgemm, and oneDNN again with OPENBLAS_CORETYPE=Haswell set (it must not care).
#    ROUNDS rounds (default 5), each running every library once (best of 5 calls per shape), interleaved so a
#    busy machine hurts them alike; the best round of each is printed.
# 2. `weft bench`, small config (V=4096 d=256 L=4 H=4 T=256 B=8), with --cpu-gemm auto / onednn / openblas, each
#    with and without OPENBLAS_CORETYPE=Haswell.
# Usage: tests/bench/blas_compare.sh [threads (default 2)]; BUILD (default build/cpu) holds weft.
set -euo pipefail
cd "$(dirname "$0")/../.."
threads=${1:-2}
rounds=${ROUNDS:-5}
build=${BUILD:-build/cpu}
arch=$(gcc -print-multiarch)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
obl=/usr/lib/$arch/openblas-openmp
g++ -O2 tests/bench/blas_compare.cpp -o "$out/openblas" -L$obl -Wl,-rpath,$obl -lopenblas
g++ -O2 -DUSE_DNNL tests/bench/blas_compare.cpp -o "$out/onednn" -ldnnl
variants=("openblas native|openblas|" "openblas CORETYPE=SkylakeX|openblas|SkylakeX"
          "openblas CORETYPE=Haswell|openblas|Haswell" "onednn|onednn|" "onednn CORETYPE=Haswell|onednn|Haswell")
blis=/usr/lib/$arch/blis-openmp
if [ -e "$blis/libblis.so" ]; then
  g++ -O2 tests/bench/blas_compare.cpp -o "$out/blis" -L$blis -Wl,-rpath,$blis -lblis
  variants+=("blis (openmp)|blis|")
fi
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads BLIS_NUM_THREADS=$threads
unset OPENBLAS_CORETYPE
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $threads threads"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== sgemm GFLOP/s, 4096 rows, 768 -> 3072: best of $rounds rounds x 5 calls =="
for ((r = 0; r < rounds; ++r)); do
  for v in "${variants[@]}"; do
    IFS='|' read -r name bin core <<< "$v"
    line=$(if [ -n "$core" ]; then OPENBLAS_CORETYPE=$core "$out/$bin" 5; else "$out/$bin" 5; fi)
    echo "$name|$line" >> "$out/results"
  done
done
printf "%-30s %10s %10s %10s\n" library "x W^T" "dy W" "dy^T x"
for v in "${variants[@]}"; do
  name=${v%%|*}
  grep -F "$name|" "$out/results" | awk -F'|' -v n="$name" '$1 == n {
      split($2, f, " "); for (i = 2; i <= 6; i += 2) if (f[i] > best[i]) best[i] = f[i] }
    END { printf "%-30s %10.1f %10.1f %10.1f\n", n, best[2], best[4], best[6] }'
done
echo "load after the sgemm runs: $(cut -d' ' -f1-3 /proc/loadavg)"

weft=$build/weft
if [ ! -x "$weft" ]; then echo "no $weft: skipping the weft bench part (BUILD=...)"; exit 0; fi
echo "== weft bench, small config, $threads threads =="
for lib in auto onednn openblas; do
  for core in "" Haswell; do
    env=(); [ -n "$core" ] && env=(OPENBLAS_CORETYPE=$core)
    rm -f "$out/bench.json"
    env "${env[@]}" "$weft" bench --device cpu --threads "$threads" --cpu-gemm $lib --vocab-size 4096 --d-model 256 \
      --n-layers 4 --n-heads 4 --seq-len 256 --batch-size 8 --steps "${STEPS:-10}" --warmup-steps 2 \
      --json "$out/bench.json" > /dev/null
    awk -v lib=$lib -v core="${core:+CORETYPE=$core}" '{
      match($0, /"tokens_per_s": [0-9.e+]*/); t = substr($0, RSTART + 16, RLENGTH - 16);
      match($0, /"gemm_peak_flops": [0-9.e+]*/); p = substr($0, RSTART + 19, RLENGTH - 19);
      match($0, /"cpu_gemm": "[^"]*"/); g = substr($0, RSTART + 13, RLENGTH - 14);
      printf "%-9s %-18s %7.0f tok/s  f32 GEMM peak %5.0f GFLOP/s  (%s)\n", lib, core, t, p / 1e9, g }' "$out/bench.json"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
