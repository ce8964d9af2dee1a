#!/usr/bin/env bash
# Installs weft's build dependencies from Debian's packages when they are missing (needs root or sudo).
# CUDA 13, cuDNN 9 and NCCL 2.28 are expected preinstalled (nvcc on PATH); without nvcc the CUDA
# backend is simply not built. clang, its runtime libraries (libFuzzer, sanitizers) and its OpenMP build the
# fuzz targets (tests/fuzz/run).
set -euo pipefail

packages=(build-essential cmake ninja-build pkg-config libopenblas-openmp-dev libdnnl-dev libhdf5-dev hdf5-tools libopenmpi-dev
          openmpi-bin libboost-program-options-dev libsentencepiece-dev libgtest-dev googletest python3-h5py
          slurm-wlm munge clang libclang-rt-dev libomp-dev python3-pip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "[install-deps] installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "[install-deps] all build dependencies present"
# cuDNN's header-only C++ frontend for the cuDNN attention backend (PyPI wheel headers into .deps/; optional).
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  "$(dirname "$0")/install-cudnn-frontend.sh" ||
    echo "[install-deps] warning: cudnn-frontend not installed; the CUDA build goes on without cuDNN's attention" >&2
fi
