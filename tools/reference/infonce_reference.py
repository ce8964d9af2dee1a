#!/usr/bin/env python3
"""Independent PyTorch reference of weft's InfoNCE fine-tuning objective (weft train --objective infonce;
models/common/infonce.h, launch/infonce_objective.h) on a tiny masked mixer.

Written from the spec (../shared/specs/masked-mixer.md A.10 items 3 and 10): the embedding of a text is the
mixer's last block output (no head, no final norm) at index -2 of its right-padded window; for a group
[query, document_1 .. document_{N-1}] with one match m,
    loss = -log( exp(cos(q, s_m) / tau) / sum_j exp(cos(q, s_j) / tau) ),   tau = 0.02,
averaged over the groups. cos(a, b) = a . b / (sqrt(|a|^2 + 1e-12) sqrt(|b|^2 + 1e-12)) (weft's guard against a
zero vector; 1e-12 is far below any |x|^2 here, so this is torch's F.cosine_similarity to ~1e-13).
The mixer's forward is the block loop of tools/reference/mixer_reference.py (PyTorch's Conv1d with tril-masked
weights), stopped before the LM head.

Writes tests/fixtures/infonce_mixer.fix in the format of tools/reference/transformer_reference.py: the mixer's
configuration (weft's flags) plus "infonce-*" keys, the token ids of the G x N texts (S, L), the position read in
each (S), the match of each group (G), every parameter, the loss and every parameter gradient, computed in
float64 from float32-rounded parameters and stored as float32. tests/models/test_infonce.cpp loads it. Run with
Debian's python3-torch:
    /usr/bin/python3 tools/reference/infonce_reference.py
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from fixture_file import write_fixture  # noqa: E402  (the fixture file format)
from mixer_reference import mixer_mixing, mixer_params  # noqa: E402  (the mixer's blocks, from the spec)

torch.set_default_dtype(torch.float64)


def mixer_last_block(cfg, p, ids):
    """The output of the last block, (S, L, d): mixer_reference.mixer_forward without the head."""
    d = cfg["d-model"]
    x = p["tok_emb.weight"][ids]
    for l in range(cfg["n-layers"]):
        pre = f"blocks.{l}"
        u = F.layer_norm(x, (d,), p[f"{pre}.ln_seq.weight"], p[f"{pre}.ln_seq.bias"], eps=1e-5)
        x = x + mixer_mixing(cfg, p, pre, u)
        h = F.layer_norm(x, (d,), p[f"{pre}.ln_ch.weight"], p[f"{pre}.ln_ch.bias"], eps=1e-5)
        h = F.gelu(h @ p[f"{pre}.ffn.fc.weight"].T + p[f"{pre}.ffn.fc.bias"])
        x = x + h @ p[f"{pre}.ffn.proj.weight"].T + p[f"{pre}.ffn.proj.bias"]
    return x


def infonce(emb, group, targets, tau):
    """emb (G N, d): each group's query, then its N - 1 documents; targets (G): the match among the documents."""
    e = emb.view(-1, group, emb.shape[-1])
    q, docs = e[:, 0, :], e[:, 1:, :]
    cos = (q[:, None, :] * docs).sum(-1) / (
        torch.sqrt((q * q).sum(-1) + 1e-12)[:, None] * torch.sqrt((docs * docs).sum(-1) + 1e-12))
    return F.cross_entropy(cos / tau, targets)      # mean over the groups of -log softmax(cos / tau)[m]




def main():
    out_dir = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures")
    cfg = {"model": "mixer", "vocab-size": 29, "seq-len": 12, "d-model": 24, "n-layers": 2, "d-ff": 40,
           "mixer-heads": 0, "mixer-kernel": 1, "mixer-expanded": False, "mixer-parallel": 1}
    G, N, L, tau, index = 2, 5, cfg["seq-len"], 0.02, -2
    gen = torch.Generator().manual_seed(2468)
    raw = mixer_params(cfg, gen)
    params = {k: v.float().double().requires_grad_(True) for k, v in raw.items()}
    # Texts of random lengths, right-padded with end-of-text (id 0 here) to L, as weft embed pads.
    ids = torch.zeros(G * N, L, dtype=torch.long)
    for s in range(G * N):
        n = int(torch.randint(3, L + 1, (1,), generator=gen))
        ids[s, :n] = torch.randint(1, cfg["vocab-size"], (n,), generator=gen)
    positions = torch.full((G * N,), L + index, dtype=torch.long)
    targets = torch.tensor([2, 0])
    states = mixer_last_block(cfg, params, ids)
    emb = states[torch.arange(G * N), positions]
    loss = infonce(emb, N, targets, tau)
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    grads = [torch.zeros_like(v) if g is None else g for v, g in zip(params.values(), grads)]  # lm_head: unused
    tap = f"blocks.{cfg['n-layers'] - 1}.out"
    fixture_cfg = dict(cfg, **{"infonce-group": N, "infonce-tau": tau, "infonce-tap": tap})
    entries = [("ids", ids.int()), ("positions", positions.int()), ("targets", targets.int()),
               ("loss", loss.detach().reshape(1).float())]
    entries += [(k, v.detach().float()) for k, v in params.items()]
    entries += [("grad." + k, g.float()) for k, g in zip(params.keys(), grads)]
    path = os.path.join(out_dir, "infonce_mixer.fix")
    write_fixture(path, fixture_cfg, entries)
    print(f"infonce_mixer: G {G}, N {N}, L {L}, tau {tau}, loss {loss.item():.6f} -> {os.path.relpath(path)}")
    print(f"torch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
