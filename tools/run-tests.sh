#!/usr/bin/env bash
# The one test command (README, CI): install what is missing, build the CPU-only configuration and the
# CUDA configuration (when nvcc exists; sm_90), and run every CTest test in both. GPU tests report
# SKIPPED when no GPU is visible. Usage: tools/run-tests.sh [extra ctest args, e.g. -L gradcheck]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
jobs=$(nproc)

echo "== CPU-only build (build/cpu) =="
cmake -S . -B build/cpu -G Ninja -DWEFT_CUDA=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/cpu -j "$jobs"
ctest --test-dir build/cpu --output-on-failure -j "$jobs" "$@"

if command -v nvcc >/dev/null 2>&1; then
  echo "== CUDA build (build/cuda, sm_90) =="
  cmake -S . -B build/cuda -G Ninja -DWEFT_CUDA=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build/cuda -j "$jobs"
  ctest --test-dir build/cuda --output-on-failure -j "$jobs" "$@"
else
  echo "== nvcc not found: CUDA build skipped =="
fi
