#!/usr/bin/env bash
# Prepares the GPU check (tools/gpu-check/run.sh) for a GPU machine that has CUDA 13 but none of our other
# dependencies and no package registry: builds the CUDA configuration here with shared libraries (every
# test binary stays small; libweft_runtime.so holds the kernels), then copies weft, the parity and
# model tests and every shared library they need that is not part of glibc, the compiler runtime or the
# CUDA toolkit into .gpu-carry/payload.tar.xz (ignored by git; pass .gpu-carry to the device tool's `carry`).
# Run tools/install-cudnn-frontend.sh first (tools/install-deps.sh does) so the build has cuDNN's attention.
# Usage: tools/gpu-check/pack.sh        (about 20 minutes on 2 cores; ccache makes reruns fast)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build/gpu-pack
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -G Ninja -DWEFT_CUDA=ON -DWEFT_SHARED_LIBS=ON -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
tests=$(cd "$build" && ninja -t targets all | sed -n 's/^\(test_parity_[a-z_0-9]*\): phony$/\1/p' | sort -u)
cmake --build "$build" -j "$(nproc)" --target weft bench_attention bench_norm $tests

carry=.gpu-carry
rm -rf "$carry" && mkdir -p "$carry/bin" "$carry/lib"
cp "$build/weft" "$build/tests/bench/bench_attention" "$build/tests/bench/bench_norm" "$carry/bin/"
for t in $tests; do cp "$build/tests/$t" "$carry/bin/"; done
# Libraries: ours, then whatever ldd resolves outside glibc, libstdc++/libgcc, CUDA and NCCL (the GPU
# machine brings those; libcublasLt alone is over 500 MB).
for f in "$carry"/bin/*; do
  ldd "$f" | awk '/=> \// {print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libstdc++*|libgcc_s*|libcuda.so*|libcudart*|\
    libcublas*|libnccl*|libcudnn*|libnvrtc*|libnvJitLink*) ;;
    *) cp -L "$lib" "$carry/lib/" ;;
  esac
done
strip --strip-unneeded "$carry"/bin/* "$carry"/lib/*.so* 2>/dev/null || true
# The device tool carries at most 64 MiB with the working tree; OpenBLAS alone is 36 MB: ship one xz tarball.
tar -C "$carry" -cJf "$carry.tar.xz" bin lib
rm -rf "$carry" && mkdir -p "$carry" && mv "$carry.tar.xz" "$carry/payload.tar.xz"
grep -qx '/.gpu-carry/' .git/info/exclude 2>/dev/null || echo '/.gpu-carry/' >> .git/info/exclude
du -sh "$carry"
echo "next: device run with carry [\".gpu-carry\"], command: bash tools/gpu-check/run.sh"
