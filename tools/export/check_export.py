#!/usr/bin/env python3
"""Export check: loads a weft checkpoint with h5py into the independent PyTorch reference model
(tools/reference/transformer_reference.py) and compares its loss with `weft eval` on the same tokens.

    /usr/bin/python3 tools/export/check_export.py --checkpoint RUN_OR_CHECKPOINT [--weft build/cpu/weft]
                     [--seq-len T] [--data DIR] [--batches N] [--tolerance 1e-5] [--json]

- Every key of the stored [model] section is read and honoured; a key this script does not know, or a model
  other than `transformer`, is refused (exit 2, naming the key), never ignored. A key missing from an older
  config.ini takes weft's default. The checkpoint's parameter names and shapes must be exactly those the
  configuration implies.
- The data folder is `--data`, else the stored [data] `data`. A relative stored path that does not exist from the
  current folder is tried relative to the launch folder (the run folder minus the stored relative [train] out,
  when that is its tail), the run folder's parent, then the run folder; the one used is printed and handed to
  `weft eval --data` too.
- Both sides score the same windows of val.bin: window k = tokens [kT, kT + T + 1) (docs/data-format.md), all of
  them by default (`weft eval --batches 0`), or the first N * batch-size with `--batches N`. T is the training
  length, or `--seq-len` (e.g. 2T for ALiBi / Sandwich / RoPE beyond the training length).
- Exit 0 when |reference - weft| / |reference| < --tolerance (1e-5), 1 when not, 2 on a refused input.
"""
import argparse
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import transformer_reference as ref  # noqa: E402

# The [model] keys of `weft train --help` and weft's defaults (launch/model_options.cpp).
MODEL_DEFAULTS = {
    "model": "transformer", "vocab-size": "0", "d-model": "128", "n-layers": "4", "n-heads": "4", "d-ff": "0",
    "seq-len": "256", "position": "learned", "rope-fraction": "1", "rope-base": "10000", "sandwich-dim": "128",
    "activation": "gelu", "norm": "layernorm", "tie-embeddings": "true", "bias": "true", "dropout": "0",
    "norm-eps": "1e-05", "head-dim": "0", "attn-bias": "auto", "ffn-bias": "auto", "head-bias": "false",
    "decay-all": "false", "init": "gpt2", "attention-window": "0",
}
# Keys that only shape training (the optimiser, the initial values), not the function a checkpoint computes.
TRAINING_ONLY = ("decay-all", "init")
CHOICES = {"position": ("learned", "sinusoidal", "rope", "alibi", "sandwich", "none"),
           "activation": ("gelu", "relu", "swiglu"), "norm": ("layernorm", "rmsnorm")}


class Refused(Exception):
    pass


def parse_ini(text):
    out, section = {}, None
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip().strip("[]")
            out.setdefault(section, {})
        elif " = " in line and section is not None:
            k, v = line.split(" = ", 1)
            out[section][k.strip()] = v.strip()
    return out


def as_int(key, v, lo):
    try:
        n = int(v)
    except ValueError:
        raise Refused(f"[model] {key} = {v!r} is not an integer")
    if n < lo:
        raise Refused(f"[model] {key} = {n} must be >= {lo}")
    return n


def as_bool(key, v):
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off"):
        return False
    raise Refused(f"[model] {key} = {v!r} is not true or false")


def as_real(key, v):
    try:
        return float(v)
    except ValueError:
        raise Refused(f"[model] {key} = {v!r} is not a number")


def model_config(section):
    """The reference's cfg from the stored [model] section (every key honoured or refused)."""
    unknown = sorted(set(section) - set(MODEL_DEFAULTS))
    if unknown:
        raise Refused(f"[model] key '{unknown[0]}' is not understood by the export check (known: "
                      f"{', '.join(MODEL_DEFAULTS)}); refusing rather than ignoring it")
    m = dict(MODEL_DEFAULTS, **section)
    if m["model"] != "transformer":
        raise Refused(f"[model] model = {m['model']!r}: the export check has a reference only for 'transformer'")
    for key, allowed in CHOICES.items():
        if m[key] not in allowed:
            raise Refused(f"[model] {key} = {m[key]!r} is not one of {', '.join(allowed)}")
    d = as_int("d-model", m["d-model"], 1)
    cfg = dict(vocab=as_int("vocab-size", m["vocab-size"], 2), d_model=d, n_layers=as_int("n-layers", m["n-layers"], 1),
               n_heads=as_int("n-heads", m["n-heads"], 1), d_ff=as_int("d-ff", m["d-ff"], 0) or 4 * d,
               seq_len=as_int("seq-len", m["seq-len"], 1), position=m["position"], activation=m["activation"],
               norm=m["norm"], tie=as_bool("tie-embeddings", m["tie-embeddings"]), bias=as_bool("bias", m["bias"]),
               rope_fraction=m["rope-fraction"], rope_base=as_real("rope-base", m["rope-base"]),
               sandwich_dim=as_int("sandwich-dim", m["sandwich-dim"], 2), dropout=as_real("dropout", m["dropout"]),
               norm_eps=as_real("norm-eps", m["norm-eps"]),
               attention_window=as_int("attention-window", m["attention-window"], 0))
    if d % cfg["n_heads"]:
        raise Refused(f"[model] n-heads = {cfg['n_heads']} does not divide d-model = {d}")
    # The reference has one bias switch and head size d / H: the baseline options are honoured at the values
    # that reduce to it, refused otherwise (never ignored).
    head_dim = as_int("head-dim", m["head-dim"], 0)
    if head_dim not in (0, d // cfg["n_heads"]):
        raise Refused(f"[model] head-dim = {head_dim} != d-model / n-heads: the reference takes d / H heads only")
    for key in ("attn-bias", "ffn-bias"):
        if m[key] != "auto" and as_bool(key, m[key]) != cfg["bias"]:
            raise Refused(f"[model] {key} = {m[key]} differs from bias = {m['bias']}: the reference has one switch")
    if as_bool("head-bias", m["head-bias"]):
        raise Refused("[model] head-bias = true: the reference's LM head has no bias")
    for key in TRAINING_ONLY:
        if key == "decay-all":
            as_bool(key, m[key])
        elif m[key] not in ("gpt2", "scaled"):
            raise Refused(f"[model] init = {m[key]!r} is not gpt2 or scaled")
    if not 0.0 <= cfg["dropout"] < 1.0:  # eval applies no dropout, so the value only has to be valid
        raise Refused(f"[model] dropout = {cfg['dropout']} is not in [0, 1)")
    if cfg["position"] == "rope":
        fraction = as_real("rope-fraction", cfg["rope_fraction"])
        if not 0.0 < fraction <= 1.0 or ref.rope_channels(cfg["rope_fraction"], d // cfg["n_heads"]) < 2:
            raise Refused(f"[model] rope-fraction = {cfg['rope_fraction']} rotates fewer than 2 channels or is "
                          "outside (0, 1]")
        if cfg["rope_base"] <= 1.0:
            raise Refused(f"[model] rope-base = {cfg['rope_base']} must be > 1")
    if cfg["position"] == "sandwich" and cfg["sandwich_dim"] % 2:
        raise Refused(f"[model] sandwich-dim = {cfg['sandwich_dim']} must be even")
    return cfg


def expected_shapes(cfg):
    """Parameter name -> shape, as models/transformer declares them for this configuration."""
    V, C, Fd = cfg["vocab"], cfg["d_model"], cfg["d_ff"]
    ln = cfg["norm"] == "layernorm"
    s = {"tok_emb.weight": (V, C)}
    if cfg["position"] == "learned":
        s["pos_emb.weight"] = (cfg["seq_len"], C)

    def norm(name):
        s[name + ".weight"] = (C,)
        if ln and cfg["bias"]:
            s[name + ".bias"] = (C,)

    def linear(name, out, inp):
        s[name + ".weight"] = (out, inp)
        if cfg["bias"]:
            s[name + ".bias"] = (out,)
    for layer in range(cfg["n_layers"]):
        b = f"blocks.{layer}"
        norm(b + ".ln1")
        linear(b + ".attn.qkv", 3 * C, C)
        linear(b + ".attn.proj", C, C)
        norm(b + ".ln2")
        linear(b + ".mlp.fc", 2 * Fd if cfg["activation"] == "swiglu" else Fd, C)
        linear(b + ".mlp.proj", C, Fd)
    norm("ln_f")
    if not cfg["tie"]:
        s["lm_head.weight"] = (V, C)
    return s


def checkpoint_dirs(path):
    """(checkpoint folder, run folder) of a run folder (its latest checkpoint) or a checkpoint folder."""
    path = os.path.abspath(path)
    if os.path.isdir(os.path.join(path, "checkpoints")):
        with open(os.path.join(path, "checkpoints", "latest")) as f:
            return os.path.join(path, "checkpoints", f.read().strip()), path
    parent = os.path.dirname(path)
    run = os.path.dirname(parent) if os.path.basename(parent) == "checkpoints" else parent
    return path, run


def resolve_data(stored, run, stored_out=""):
    """The data folder of a stored (possibly relative) path: as is; else from the folder the run was launched
    from when the stored [train] out (relative) is the tail of the run folder's path; else from the run's
    parent; else from the run folder."""
    if os.path.isabs(stored):
        return stored, "stored absolute path"
    tries = [(stored, "relative to the current folder")]
    out = os.path.normpath(stored_out) if stored_out and not os.path.isabs(stored_out) else ""
    if out and out != "." and not out.startswith("..") and run.endswith(os.sep + out):
        tries.append((os.path.join(run[: -len(out) - 1], stored), "relative to the launch folder ([train] out)"))
    tries += [(os.path.join(os.path.dirname(run), stored), "relative to the run folder's parent"),
              (os.path.join(run, stored), "relative to the run folder")]
    for p, how in tries:
        if os.path.isfile(os.path.join(p, "val.bin")):
            return os.path.abspath(p), how
    raise Refused(f"[data] data = {stored!r}: no val.bin " + ", ".join(f"{how} ({os.path.abspath(p)})"
                                                                         for p, how in tries))


def read_shard(path, vocab):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size < 64 or raw[:8].tobytes() != b"WEFTTOK1":
        raise Refused(f"{path}: not a weft token shard")
    version, width = (int(x) for x in np.frombuffer(raw[8:16].tobytes(), dtype="<u4"))
    count = int(np.frombuffer(raw[16:24].tobytes(), dtype="<u8")[0])
    if version != 2 or width not in (2, 4) or raw.size != 64 + count * width:
        raise Refused(f"{path}: version {version}, width {width}, {count} tokens in {raw.size} bytes: not a v2 shard")
    tokens = np.frombuffer(raw[64:].tobytes(), dtype="<u2" if width == 2 else "<u4").astype(np.int64)
    if tokens.size and tokens.max() >= vocab:
        raise Refused(f"{path}: token {tokens.max()} is outside the model's vocabulary of {vocab}")
    return tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="run folder (its latest checkpoint) or checkpoint folder")
    ap.add_argument("--weft", default="build/cpu/weft")
    ap.add_argument("--data", default="", help="data folder (default: the stored [data] data)")
    ap.add_argument("--seq-len", type=int, default=0, help="evaluation length (0: the training length)")
    ap.add_argument("--batches", type=int, default=0, help="batches of --batch-size windows (0: all windows)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--tolerance", type=float, default=1e-5, help="largest accepted relative difference")
    ap.add_argument("--json", action="store_true", help="also print one JSON line with both losses")
    a = ap.parse_args()
    try:
        ckpt, run = checkpoint_dirs(a.checkpoint)
        with h5py.File(os.path.join(ckpt, "rank_00000.h5"), "r") as f:
            text = f.attrs["config"]
            ini = parse_ini(text.decode() if isinstance(text, bytes) else text)
            cfg = model_config(ini.get("model", {}))
            params = {}
            f["params"].visititems(lambda n, o: params.__setitem__(n, torch.tensor(np.array(o), dtype=torch.float64))
                                   if isinstance(o, h5py.Dataset) else None)
        want = expected_shapes(cfg)
        got = {k: tuple(v.shape) for k, v in params.items()}
        if got != want:
            diff = sorted(set(got.items()) ^ set(want.items()))
            raise Refused(f"{ckpt}: parameters differ from what [model] implies: {diff[:6]}")
        if a.data:
            data, how = os.path.abspath(a.data), "--data"
        else:
            data, how = resolve_data(ini.get("data", {}).get("data", ""), run, ini.get("train", {}).get("out", ""))
        print(f"data {data} ({how})")
        T = a.seq_len or cfg["seq_len"]
        if cfg["position"] == "learned" and T > cfg["seq_len"]:
            raise Refused(f"--seq-len {T} exceeds the {cfg['seq_len']} learned positions")
        tokens = read_shard(os.path.join(data, "val.bin"), cfg["vocab"])
    except Refused as e:
        print(f"check_export: {e}", file=sys.stderr)
        return 2
    windows = max(0, (tokens.size - 1) // T)
    if a.batches > 0:
        windows = min(windows, a.batches * a.batch_size)
    if windows == 0:
        print(f"check_export: {data}/val.bin holds no window of {T} + 1 tokens", file=sys.stderr)
        return 2
    total = 0.0  # summed token losses, float64
    with torch.no_grad():
        for first in range(0, windows, a.batch_size):
            ks = range(first, min(first + a.batch_size, windows))
            w = torch.tensor(np.stack([tokens[k * T: k * T + T + 1] for k in ks]))
            total += ref.forward(cfg, params, w[:, :-1], w[:, 1:], reduction="sum").item()
    torch_loss = total / (windows * T)
    cmd = [a.weft, "eval", "--checkpoint", ckpt, "--data", data, "--seq-len", str(T), "--batches",
           str(a.batches), "--batch-size", str(a.batch_size), "--device", "cpu", "--threads", "1",
           "--pack", "concat"]  # the reference scores concatenated windows, whatever the run trained on
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        print(f"check_export: {' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}", file=sys.stderr)
        return 1
    out = json.loads(res.stdout.strip().splitlines()[-1])
    weft_loss = out["loss"]
    if out["tokens"] != windows * T:
        print(f"check_export: weft eval scored {out['tokens']} tokens, the reference {windows * T}", file=sys.stderr)
        return 1
    rel = abs(torch_loss - weft_loss) / abs(torch_loss)
    ok = rel < a.tolerance
    print(f"checkpoint {ckpt}: {windows} windows of {T} tokens: PyTorch reference loss {torch_loss:.8f}, "
          f"weft eval loss {weft_loss:.8f}, rel diff {rel:.2e} ({'ok' if ok else 'FAIL'}: tolerance {a.tolerance:g})")
    if a.json:
        print(json.dumps({"checkpoint": ckpt, "windows": windows, "seq_len": T, "reference_loss": torch_loss,
                          "weft_loss": weft_loss, "rel_diff": rel, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
