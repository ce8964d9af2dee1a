#!/usr/bin/env bash
# Fetches NVIDIA's header-only cudnn-frontend (the C++ graph API over cuDNN 9 that weft's cuDNN attention uses,
# runtime/backend_cuda/attention_cudnn.cpp) into .deps/cudnn-frontend/include of this checkout. The headers come
# from the PyPI wheel nvidia-cudnn-frontend (pinned below; its include/ folder, nothing else is kept); no root is
# needed. Without them the CUDA build still compiles and says so: `--attention-backend auto` then runs weft's own
# kernels. Called by tools/install-deps.sh when nvcc is present; a failed download is a warning, not an error.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${CUDNN_FRONTEND_VERSION:-1.32.0}"
dest=".deps/cudnn-frontend"
if [ -f "$dest/include/cudnn_frontend.h" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ]; then
  echo "[install-cudnn-frontend] cudnn-frontend $version present in $dest"
  exit 0
fi
python=$(command -v python3 || true)
if [ -z "$python" ] || ! "$python" -m pip --version >/dev/null 2>&1; then
  echo "[install-cudnn-frontend] warning: python3 -m pip is not available (Debian: python3-pip); the cuDNN" \
       "attention backend will not be built" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Any wheel of the release carries the same headers: ask for one that installs on a manylinux x86-64 CPython 3.12.
if ! "$python" -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
       --python-version 3.12 --dest "$tmp" "nvidia-cudnn-frontend==$version" 2>"$tmp/pip.log"; then
  echo "[install-cudnn-frontend] warning: could not download nvidia-cudnn-frontend==$version from PyPI" \
       "($(tail -1 "$tmp/pip.log")); the cuDNN attention backend will not be built" >&2
  exit 0
fi
rm -rf "$dest"
mkdir -p "$dest"
"$python" - "$tmp"/nvidia_cudnn_frontend-*.whl "$dest" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    members = [n for n in z.namelist() if n.startswith("include/")]
    z.extractall(dest, members)
    licenses = [n for n in z.namelist() if "/licenses/" in n and not n.endswith("/")]
    for n in licenses:
        with open(f"{dest}/{n.rsplit('/', 1)[1]}", "wb") as f:
            f.write(z.read(n))
print(f"[install-cudnn-frontend] {len(members)} header entries from {wheel.rsplit('/', 1)[1]}")
PY
echo "$version" > "$dest/VERSION"
echo "[install-cudnn-frontend] cudnn-frontend $version in $dest/include"
