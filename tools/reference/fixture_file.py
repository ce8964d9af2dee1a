"""The fixture file every reference script in this folder writes and tests/harness/fixture.cpp reads.

Layout: text lines `config KEY VALUE`, then one `tensor NAME DTYPE RANK DIMS...` line per tensor (DTYPE i32 or f32),
then `END`, then the tensors' little-endian bytes in the same order. Used by the reference scripts; no weft code
imports it (the build never needs torch).
"""
import torch


def model_entries(ids, targets, params, grads, scalars):
    """The entries of a model fixture in file order: token inputs and targets (i32), the one-element scalars
    (loss and its parts, in the dict's order), the parameters, and `grad.<name>` for each gradient."""
    entries = [("inputs", ids.int()), ("targets", targets.int())]
    entries += [(k, v.detach().reshape(1).float()) for k, v in scalars.items()]
    entries += [(k, v.detach().float()) for k, v in params.items()]
    entries += [("grad." + k, g.float()) for k, g in grads.items()]
    return entries


def write_fixture(path, cfg, entries, bools_as_int=False):
    """cfg: {key: value} written as config lines (booleans as true/false, or 1/0 with bools_as_int);
    entries: [(name, tensor)], each int32 (written i32) or floating (written f32)."""
    with open(path, "wb") as f:
        for k, v in cfg.items():
            if isinstance(v, bool):
                text = str(int(v)) if bools_as_int else ("true" if v else "false")
            else:
                text = str(v)
            f.write(f"config {k} {text}\n".encode())
        for name, t in entries:
            dt = "i32" if t.dtype == torch.int32 else "f32"
            f.write(f"tensor {name} {dt} {t.dim()} {' '.join(str(d) for d in t.shape)}\n".encode())
        f.write(b"END\n")
        for _, t in entries:
            f.write(t.detach().contiguous().numpy().astype("<i4" if t.dtype == torch.int32 else "<f4").tobytes())
