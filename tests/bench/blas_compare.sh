#!/usr/bin/env bash
# Builds tests/bench/blas_compare.cpp against OpenBLAS, BLIS and oneDNN (Debian packages libopenblas-dev,
# libblis-openmp-dev, libdnnl-dev) and prints sgemm GFLOP/s for each, with 2 threads.
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
blis=/usr/lib/x86_64-linux-gnu/blis-openmp
g++ -O2 blas_compare.cpp -o "$out/openblas" -lopenblas
g++ -O2 blas_compare.cpp -o "$out/blis" -L$blis -Wl,-rpath,$blis -lblis
g++ -O2 -DUSE_DNNL blas_compare.cpp -o "$out/dnnl" -ldnnl
export OMP_NUM_THREADS=${THREADS:-2} OPENBLAS_NUM_THREADS=${THREADS:-2} BLIS_NUM_THREADS=${THREADS:-2}
echo "OpenBLAS (core: auto-detected)"; "$out/openblas"
echo "OpenBLAS (OPENBLAS_CORETYPE=SkylakeX)"; OPENBLAS_CORETYPE=SkylakeX "$out/openblas"
echo "OpenBLAS (OPENBLAS_CORETYPE=Haswell, the AVX2 kernels)"; OPENBLAS_CORETYPE=Haswell "$out/openblas"
echo "BLIS (openmp)"; "$out/blis"
echo "oneDNN dnnl_sgemm"; "$out/dnnl"
rm -rf "$out"
