#!/usr/bin/env bash
# Builds the CUDA-kernel emulator checks (host-only, g++) and runs them: one PASS/FAIL line per case.
# Usage: tools/cuda-emu/run.sh [--build-only] [--smoke] [family...]   (families: norm softmax xent pointwise optim reduce
# layout index rope mix moe attention decode; --smoke: a sample of every family's cases)   Env: BUILD (default build/cuda-emu), CXX, JOBS,
# EMU_ASAN=1, EMU_FULL=1 (every attention case, slow), EMU_MATCH=text (only cases whose name holds it),
# EMU_MUTATE="file|old|new" (plants a bug in the generated copy of a kernel file; see mutants.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_ONLY=0
if [[ "${1:-}" == --build-only ]]; then BUILD_ONLY=1; shift; fi  # the CMake target (CTest runs the binary)
ROOT=$PWD
BUILD=${BUILD:-build/cuda-emu}
CXX=${CXX:-g++}
JOBS=${JOBS:-1}
CUDA_INC=${CUDA_INC:-/usr/local/cuda/include}
GEN=$BUILD/gen
mkdir -p "$BUILD/obj" "$GEN"
python3 tools/cuda-emu/transform.py runtime/backend_cuda "$GEN/runtime/backend_cuda"
if [[ -n "${EMU_MUTATE:-}" ]]; then  # "file|old|new": plant a bug in the generated copy (mutants.sh)
  python3 - "$GEN/runtime/backend_cuda" "$EMU_MUTATE" <<'PY'
import sys
d, spec = sys.argv[1], sys.argv[2]
f, old, new = spec.split('|')
path = d + '/' + f
s = open(path).read()
assert s.count(old) >= 1, 'mutation target not found: ' + old
open(path, 'w').write(s.replace(old, new, 1))
PY
fi
BLAS=${BLAS:-/usr/include/x86_64-linux-gnu/openblas-openmp}  # cblas.h of the CPU attention twin
FLAGS=(-std=c++20 -O1 -g -w -I"$GEN" -I"$ROOT" -I"$ROOT/tools/cuda-emu" -I"$CUDA_INC" -I"$CUDA_INC/cccl" -I"$BLAS")
[[ "${EMU_ASAN:-0}" == 1 ]] && FLAGS+=(-fsanitize=address -fno-omit-frame-pointer)
KERNELS=(norm softmax xent optim reduce layout index pointwise pointwise_binary rope mix moe attention_forward attention_backward
         attention_tc_forward attention_tc_backward attention_bias decode_attention)
CPU=(norm softmax xent optim optim_vec index layout vec exec_cpu gemm_library pointwise rope mix moe attention decode_attention)
objs=()
compile() {  # src obj extra-flags...
  local src=$1 obj=$2; shift 2
  if [[ ! -f $obj || $src -nt $obj || tools/cuda-emu/emu.h -nt $obj || -n "$(find runtime tests/cases tools/cuda-emu "$GEN" -newer "$obj" \( -name '*.h' -o -name '*.cuh' -o -name '*.inc' \) -print -quit)" ]]; then
    "$CXX" "${FLAGS[@]}" "$@" -c "$src" -o "$obj"
  fi
}
for k in "${KERNELS[@]}"; do
  compile "$GEN/runtime/backend_cuda/$k.cu" "$BUILD/obj/cuda_$k.o" -include tools/cuda-emu/emu.h -x c++ &
  objs+=("$BUILD/obj/cuda_$k.o")
  while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n; done
done
for c in "${CPU[@]}"; do
  compile "runtime/backend_cpu/$c.cpp" "$BUILD/obj/cpu_$c.o" -fopenmp &
  objs+=("$BUILD/obj/cpu_$c.o")
  while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n; done
done
# cuDNN's attention and norms in their build without the frontend (the emulator has no cuDNN): calls stay with ours.
for c in attention_cudnn norm_cudnn; do
  compile "runtime/backend_cuda/$c.cpp" "$BUILD/obj/$c.o" &
  objs+=("$BUILD/obj/$c.o")
done
CHECKS=(norm softmax xent pointwise optim reduce layout index rope mix moe attention decode)
for t in emu_runtime main "${CHECKS[@]/#/check_}"; do
  compile "tools/cuda-emu/$t.cpp" "$BUILD/obj/$t.o" &
  objs+=("$BUILD/obj/$t.o")
  while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n; done
done
wait
bin=$BUILD/cuda-emu-checks
if [[ ! -f $bin || -n "$(find "${objs[@]}" -newer "$bin" -print -quit)" ]]; then
  "$CXX" "${FLAGS[@]}" -fopenmp "${objs[@]}" -lopenblas -o "$bin"
fi
(( BUILD_ONLY )) && exit 0
exec "$bin" "$@"
