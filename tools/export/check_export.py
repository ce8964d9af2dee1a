#!/usr/bin/env python3
"""Export check: loads a weft checkpoint with h5py into the independent PyTorch reference model
(tools/reference/transformer_reference.py) and compares its loss with `weft eval` on the same tokens.

    /usr/bin/python3 tools/export/check_export.py --checkpoint RUN_DIR [--weft build/cpu/weft] [--batches 2]

Prints both losses and exits non-zero when they differ by more than 1e-4 (relative)."""
import argparse
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
import transformer_reference as ref  # noqa: E402


def latest(path):
    if os.path.isdir(os.path.join(path, "checkpoints")):
        with open(os.path.join(path, "checkpoints", "latest")) as f:
            return os.path.join(path, "checkpoints", f.read().strip())
    return path


def parse_ini(text):
    out, section = {}, None
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif " = " in line:
            k, v = line.split(" = ", 1)
            out[(section, k)] = v
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--weft", default="build/cpu/weft")
    ap.add_argument("--batches", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=4)
    a = ap.parse_args()
    ckpt = latest(a.checkpoint)
    f = h5py.File(os.path.join(ckpt, "rank_00000.h5"), "r")
    text = f.attrs["config"]
    ini = parse_ini(text.decode() if isinstance(text, bytes) else text)
    m = lambda k: ini[("model", k)]
    d = int(m("d-model"))
    cfg = dict(vocab=int(m("vocab-size")), d_model=d, n_layers=int(m("n-layers")), n_heads=int(m("n-heads")),
               d_ff=int(m("d-ff")) or 4 * d, seq_len=int(m("seq-len")), activation=m("activation"), norm=m("norm"),
               tie=m("tie-embeddings") == "true", position=m("position"), rope_fraction=float(m("rope-fraction")),
               sandwich_dim=int(m("sandwich-dim")))
    params = {}
    f["params"].visititems(lambda n, o: params.__setitem__(n, torch.tensor(np.array(o), dtype=torch.float64))
                           if isinstance(o, h5py.Dataset) else None)
    data = ini[("data", "data")]
    raw = np.fromfile(os.path.join(data, "val.bin"), dtype=np.uint8)
    width = int(np.frombuffer(raw[12:16].tobytes(), dtype="<u4")[0])
    tokens = np.frombuffer(raw[64:].tobytes(), dtype="<u2" if width == 2 else "<u4").astype(np.int64)
    T, n = cfg["seq_len"], a.batches * a.batch_size
    windows = [tokens[k * T: k * T + T + 1] for k in range(n)]
    x = torch.tensor(np.stack([w[:-1] for w in windows]))
    y = torch.tensor(np.stack([w[1:] for w in windows]))
    with torch.no_grad():
        torch_loss = ref.forward(cfg, params, x, y).item()
    out = subprocess.run([a.weft, "eval", "--checkpoint", ckpt, "--batches", str(a.batches), "--batch-size",
                          str(a.batch_size), "--threads", "1"], check=True, capture_output=True, text=True).stdout
    weft_loss = json.loads(out.strip().splitlines()[-1])["loss"]
    rel = abs(torch_loss - weft_loss) / abs(torch_loss)
    print(f"checkpoint {ckpt}: PyTorch reference loss {torch_loss:.6f}, weft eval loss {weft_loss:.6f}, rel diff {rel:.2e}")
    return 0 if rel < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
