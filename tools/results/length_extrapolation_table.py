#!/usr/bin/env python3
"""Markdown tables for docs/results/length-extrapolation.md from the files tools/results/length_extrapolation.sh writes.

Usage: length_extrapolation_table.py WORK_DIR
Reads WORK_DIR/eval_<scheme>_s<seed>_<mode>.jsonl (the stdout of `weft eval --lengths`) and
WORK_DIR/receptive_<scheme>_s1.jsonl (`weft analyze receptive-field`); prints
  1. nonoverlap perplexity per length: mean over the seeds found, and the min-max spread;
  2. sliding (stride L/2) perplexity per length for the seeds that have it;
  3. the early-token curse: mean NLL per position bin at the longest length (nonoverlap, seed 1);
  4. the empirical receptive field (C(k) >= 0.99) and C(L/2) per length, and (with h5py) where C(k)
     reaches 0.5 and 0.9.
"""
import glob
import json
import os
import re
import sys
from collections import defaultdict

SCHEMES = ["sinusoidal", "learned", "rope", "alibi", "sandwich", "none", "window32"]


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def collect(work, mode):
    """{scheme: {seed: {length: line}}}"""
    out = defaultdict(dict)
    for path in glob.glob(os.path.join(work, f"eval_*_s*_{mode}.jsonl")):
        m = re.fullmatch(rf"eval_(.+)_s(\d+)_{mode}\.jsonl", os.path.basename(path))
        if m:
            out[m.group(1)][int(m.group(2))] = {d["length"]: d for d in read_lines(path)}
    return out


def lengths_of(runs):
    return sorted({L for seeds in runs.values() for by_len in seeds.values() for L in by_len})


def ppl_table(runs, title):
    lengths = lengths_of(runs)
    print(f"{title}\n")
    print("| scheme | seeds | " + " | ".join(str(L) for L in lengths) + " |")
    print("|---|---|" + "---|" * len(lengths))
    for s in [s for s in SCHEMES if s in runs] + sorted(set(runs) - set(SCHEMES)):
        seeds = runs[s]
        cells = []
        for L in lengths:
            vals = [seeds[k][L]["perplexity"] for k in seeds if L in seeds[k] and "perplexity" in seeds[k][L]]
            errors = [seeds[k][L] for k in seeds if L in seeds[k] and "error" in seeds[k][L]]
            if not vals:
                cells.append("error" if errors else "-")
            elif len(vals) == 1:
                cells.append(f"{vals[0]:.3f}")
            else:
                mean = sum(vals) / len(vals)
                cells.append(f"{mean:.3f} ({min(vals):.3f}-{max(vals):.3f})")
        print(f"| {s} | {len(seeds)} | " + " | ".join(cells) + " |")
    print()


def curse_table(runs):
    lengths = lengths_of(runs)
    if not lengths:
        return
    L = lengths[-1]
    bins = None
    rows = []
    for s in SCHEMES:
        line = runs.get(s, {}).get(1, {}).get(L)
        if not line or "position_loss" not in line:
            continue
        bins = line["position_bins"]
        rows.append((s, line["position_loss"]))
    if not rows:
        return
    labels = [f"{a}" if b - a == 1 else f"{a}-{b - 1}" for a, b in zip(bins[:-1], bins[1:])]
    print(f"Mean NLL (nats/byte) by position within the window, L = {L}, nonoverlap, seed 1\n")
    print("| scheme | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for s, losses in rows:
        print(f"| {s} | " + " | ".join(f"{x:.2f}" for x in losses) + " |")
    print()


def receptive_table(work):
    rows = []
    for s in SCHEMES:
        path = os.path.join(work, f"receptive_{s}_s1.jsonl")
        if os.path.exists(path):
            rows.append((s, {d["length"]: d for d in read_lines(path) if "receptive_field" in d}))
    if not rows:
        return
    lengths = sorted({L for _, r in rows for L in r})
    print("Empirical receptive field (smallest k with C(k) >= 0.99) and C(L/2), seed 1, 32 windows\n")
    print("| scheme | " + " | ".join(f"L={L}: k / C(L/2)" for L in lengths) + " |")
    print("|---|" + "---|" * len(lengths))
    for s, r in rows:
        cells = [f"{r[L]['receptive_field']} / {r[L]['c_half']:.3f}" if L in r else "-" for L in lengths]
        print(f"| {s} | " + " | ".join(cells) + " |")
    print()


def mass_table(work):
    """k at which C(k) reaches 0.5 and 0.9, from the HDF5 files (needs h5py; skipped without it)."""
    try:
        import h5py
        import numpy as np
    except ImportError:
        return
    rows = []
    for s in SCHEMES:
        path = os.path.join(work, f"receptive_{s}_s1.h5")
        if os.path.exists(path):
            with h5py.File(path, "r") as f:
                rows.append((s, {int(k[7:]): f[k]["cumulative"][()] for k in f if k.startswith("length_")}))
    if not rows:
        return
    lengths = sorted({L for _, r in rows for L in r})
    print("Positions back from the last holding 50% / 90% of the normalised gradient, seed 1, 32 windows\n")
    print("| scheme | " + " | ".join(f"L={L}" for L in lengths) + " |")
    print("|---|" + "---|" * len(lengths))
    for s, r in rows:
        cells = [" / ".join(str(int(np.argmax(r[L] >= t)) + 1) for t in (0.5, 0.9)) if L in r else "-"
                 for L in lengths]
        print(f"| {s} | " + " | ".join(cells) + " |")
    print()


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    work = argv[1]
    ppl_table(collect(work, "nonoverlap"), "Perplexity (bytes), nonoverlapping windows: mean over seeds (min-max)")
    ppl_table(collect(work, "sliding"), "Perplexity (bytes), sliding windows with stride L/2")
    curse_table(collect(work, "nonoverlap"))
    receptive_table(work)
    mass_table(work)


if __name__ == "__main__":
    main(sys.argv)
