#!/usr/bin/env python3
"""Markdown tables from the HDF5 files of `weft analyze norms` / `weft train --log-norms-every` (spec token-norms D.3).

Usage: token_norms_table.py NAME=FILE.h5 [NAME=FILE.h5 ...]
Per file and recorded step: the held-out loss, the last block's mean ||h_t|| in position bands (t = 0, 1-3, 4-15,
16-63, 64-T), its ratio first/last band, the Spearman correlations with log training frequency stored by weft
(final-layer norm by current token, by next token, embedding row norm), the mean token-mixing update norm of the
first and last layer, and the attention entropy (transformer) or mixing-row L1 mass (mixer) averaged over heads
and positions in the first and last layer. Needs h5py (Debian: python3-h5py); a reporting tool, not used by weft.
"""
import re
import sys

import h5py
import numpy as np

BANDS = [(0, 1), (1, 4), (4, 16), (16, 64), (64, None)]


def steps_of(f):
    return sorted(int(k[5:]) for k in f["diag"] if re.fullmatch(r"step_\d+", k))


def band_means(pos):  # pos (T, 4): mean, p10, p50, p90 per position
    return [float(np.mean(pos[a:b, 0])) for a, b in BANDS]


def mixing_summary(g, layer):
    for group in ("attn_entropy", "mix_row_l1"):
        if group in g and f"layer_{layer}" in g[group]:
            return group, float(np.mean(g[group][f"layer_{layer}"][()]))
    return None, float("nan")


def table(name, path):
    with h5py.File(path, "r") as f:
        model = f.attrs.get("model", b"?")
        model = model.decode() if isinstance(model, bytes) else str(model)
        print(f"### {name} ({model}, {path})\n")
        print("| step | loss | mean ‖h_L‖ at t=0 | 1-3 | 4-15 | 16-63 | 64+ | ρ(‖h_L‖, log f) by token | by next token "
              "| ρ(‖E_v‖, log f) | update norm first / last layer | mixing first / last layer |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for s in steps_of(f):
            g = f[f"diag/step_{s}"]
            layers = sorted(int(k[6:]) for k in g["h_norm_pos"] if k.startswith("layer_"))
            bands = band_means(g[f"h_norm_pos/layer_{layers[-1]}"][()])
            rho = [g[k].attrs.get("spearman_log_freq", float("nan")) for k in ("h_norm_tok", "h_norm_next_tok",
                                                                              "emb_row_norm")]
            upd = g["update_norm"][()]
            kind, first = mixing_summary(g, 0)
            _, last = mixing_summary(g, len(upd) - 1)
            label = {"attn_entropy": "entropy", "mix_row_l1": "row L1"}.get(kind, "-")
            print(f"| {s} | {float(g['loss'][0]):.3f} | " + " | ".join(f"{b:.2f}" for b in bands) +
                  " | " + " | ".join(f"{r:+.2f}" for r in rho) +
                  f" | {upd[0]:.2f} / {upd[-1]:.2f} | {label} {first:.2f} / {last:.2f} |")
        print()


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    for arg in argv[1:]:
        name, _, path = arg.partition("=")
        table(name, path or name)


if __name__ == "__main__":
    main(sys.argv)
