#!/usr/bin/env python3
"""Independent PyTorch reference of weft's MoEUT (models/moeut/): sigma-MoE FFN, SwitchHead attention, RoPE,
peri-layernorm, ABAB layer sharing and the entropy (load-balancing) regulariser.

Written strictly from the spec (../shared/specs/moeut.md part A: A.1 sigma-MoE, A.2 SwitchHead incl. N_A = 1,
A.3 RoPE, A.4 layer / peri-LN / grouping / LM head, A.5 entropy regulariser, A.12 pitfalls), not from weft's C++.
Expert projections are computed densely (every expert for every token) and combined with a gate tensor that is
zero outside the top-k: numerically the same sums as the official cvmm gather, and the gradient of an unselected
expert is exactly zero.

Writes one fixture per configuration to tests/fixtures/moeut_<name>.fix in the format of
tools/reference/transformer_reference.py (text header, "END", raw little-endian payload; reader
tests/harness/fixture.{h,cpp}): the configuration, `inputs` and `targets` (B, T) i32, every parameter (named as in
weft's ParamStore), `loss` = ce + reg, `ce` (mean cross-entropy over all B*T tokens), `reg` (entropy regulariser),
one element each, and `grad.<name>` = d loss / d parameter for every parameter. Parameters are random (not the
init), rounded to float32 and then computed in float64; everything is stored as float32. Run with Debian's
python3-torch:
    /usr/bin/python3 tools/reference/moeut_reference.py

Configuration keys are weft's command-line flags plus `model moeut`: vocab-size, seq-len, d-model, n-layers (L),
n-groups (G, unique layers; R = L / G repeats), n-heads (H), head-dim (dh), n-experts (N_E), expert-size (es),
top-k (K), att-experts (N_A), att-top-k (K_A), norm-layout (peri | pre), entropy-reg, att-entropy-reg.

Model (spec A.4): x = tok_emb[tokens] (no scaling); for r in 0..R-1, for g in 0..G-1: x = layer_g(x) (ABAB order);
logits = lm_head(ln_f(x)) (Linear with bias); ce = mean token cross-entropy; loss = ce + reg.
Layer, peri (the default):  xh = LN1(x)
    Q = (xh W_Q^T) dh^(-1/4), K = (xh W_K^T) dh^(-1/4), RoPE on both; softmax(Q K^T + causal mask) (scale 1.0)
    zV = xh W_SV^T, zO = xh W_SO^T -> (B, T, H, N_A); gates = raw sigmoid values of the top-K_A per head
    V[b,t,h] = sum_k gV_k * x[b,t] @ W_V[h*N_A + eV_k]        (x = the raw residual)
    y = sum_h sum_k gO_k * R_h @ W_O[h*N_A + eO_k];  x = x + y
    z = LN2(x) W_S^T (N_E logits); gates = raw sigmoid of the top-K
    y = sum_k g_k * ReLU(x @ W1[e_k]) @ W2[e_k]                 (x = the raw residual);  x = x + y
  N_A = 1 (spec A.2, clean repo): V = x W_V^T dense (H*dh, d), output gate gO = sigmoid(xh W_SO^T) (B, T, H)
    multiplies each head's attention output R_h, y = concat_h(gO_h R_h) W_O^T with W_O (d, H*dh); no V selection,
    no attention entropy term.
  pre (norm-layout pre, the pre-LN ablation of A.12.1): V (and the N_A = 1 dense V) reads LN1(x) instead of x, the
    FFN experts read LN2(x) instead of x; everything else as peri.
RoPE (A.3): n_rot = int(0.5 * dh) rounded down to even; GPT-NeoX rotate_half pairing on the first n_rot channels of
  every head, inv_freq_i = 10000^(-2i/n_rot), positions 0..T-1; the remaining channels pass through.
Regulariser (A.5), per unique layer g with the raw logits of all R applications concatenated along time:
  negent(Z) for Z (B, T*R, ..., N): logp = log_softmax(Z, -1); log pbar = logsumexp over the T*R axis - log(T*R);
  H = -sum_e pbar log pbar; negent = -mean of H over every other axis (b for the FFN; b and h for attention).
  reg = entropy-reg * sum_g negent(z_g) + att-entropy-reg * sum_g (negent(zV_g) + negent(zO_g)).
LayerNorms: weight and bias, eps 1e-5.

Mapping of the spec's tensors to weft's parameter names (per unique layer g, prefix blocks.<g>.; the clean repo's
checkpoint names from spec part C in brackets):
  tok_emb.weight (V, d) [embedding.weight];  ln_f.{weight,bias} (d) [out_norm];  lm_head.{weight (V, d), bias (V)}
  blocks.g.ln1.{weight,bias}, blocks.g.ln2.{weight,bias} (d)
  blocks.g.attn.q.weight, blocks.g.attn.k.weight (H*dh, d)   W_Q, W_K in nn.Linear layout (y = x W^T)
  N_A > 1: blocks.g.attn.v (H*N_A, d, dh) = W_V, blocks.g.attn.o (H*N_A, dh, d) = W_O,
           blocks.g.attn.sel_v (H*N_A, d) = W_SV, blocks.g.attn.sel_o (H*N_A, d) = W_SO; row index h*N_A + e
  N_A = 1: blocks.g.attn.v.weight (H*dh, d), blocks.g.attn.o.weight (d, H*dh) (nn.Linear layout),
           blocks.g.attn.sel_o (H, d)
  blocks.g.ffn.keys (N_E, d, es) = W1, blocks.g.ffn.values (N_E, es, d) = W2, blocks.g.ffn.expert_sel (N_E, d) = W_S

Choices where the spec leaves room:
  - The regulariser is computed in training mode always (the fixture is of the training loss); dropout and expert
    dropout are 0 and not applied.
  - In pre, V's selection and Q, K read LN1(x) as in peri; only the inputs that peri takes raw (V, FFN experts)
    change, as A.12.1 defines the ablation. The FFN selector reads LN2(x) in both layouts.
  - N_A = 1 has one head-major gate row per head (sel_o row h gives head h's gate); the head's output channels in
    v.weight / o.weight are h*dh .. h*dh+dh-1, as the dense transformer's.
  - att-top-k must be 1 when att-experts is 1 (it is unused there); the fixture says 1.
  - Selections are checked for margin: the gap between the K-th and (K+1)-th logit of every selection is at least
    MIN_GAP = 5e-3 (else the next seed is tried; the seed used is printed), so float32 rounding on the weft side
    cannot flip a top-k choice.
  - `short` is the `peri` configuration run at T = 5 < seq-len; its parameters come from its own seed.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from fixture_file import model_entries, write_fixture  # noqa: E402  (the fixture file format)

torch.set_default_dtype(torch.float64)

MIN_GAP = 5e-3   # smallest allowed logit gap between the last selected and the first unselected expert


def layer_norm(x, p, name):
    return F.layer_norm(x, (x.shape[-1],), p[f"{name}.weight"], p[f"{name}.bias"], eps=1e-5)


def rope_channels(dh):
    n = int(0.5 * dh)
    return n - n % 2


def rope(x, n_rot, base=10000.0):
    """x (B, H, T, dh): GPT-NeoX half pairing (rotate_half) on the first n_rot channels, positions 0..T-1."""
    T = x.shape[2]
    half = n_rot // 2
    inv = base ** (-2.0 * torch.arange(half, dtype=torch.float64) / n_rot)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]     # (T, half)
    emb = torch.cat([ang, ang], dim=-1)                                     # cat(freqs, freqs)
    cos, sin = emb.cos(), emb.sin()
    xr, rest = x[..., :n_rot], x[..., n_rot:]
    rot = torch.cat([-xr[..., half:], xr[..., :half]], dim=-1)             # rotate_half
    return torch.cat([xr * cos + rot * sin, rest], dim=-1)


def topk_gates(z, k, gaps):
    """Raw sigmoid gates of the top-k of sigmoid(z) along the last axis, as a dense tensor (zero elsewhere).
    Records the selection margin (k-th minus (k+1)-th logit) into `gaps`."""
    s = torch.sigmoid(z)
    g, e = torch.topk(s, k, dim=-1)
    if k < z.shape[-1]:
        zs = torch.sort(z.detach(), dim=-1, descending=True).values
        gaps.append((zs[..., k - 1] - zs[..., k]).min().item())
    return torch.zeros_like(s).scatter(-1, e, g)


def attention(cfg, p, pre, x, xh, gaps, hist):
    B, T, d = x.shape
    H, dh, NA, KA = cfg["n-heads"], cfg["head-dim"], cfg["att-experts"], cfg["att-top-k"]
    v_src = x if cfg["norm-layout"] == "peri" else xh
    scale = dh ** -0.25
    q = (xh @ p[f"{pre}.attn.q.weight"].T * scale).view(B, T, H, dh).transpose(1, 2)
    k = (xh @ p[f"{pre}.attn.k.weight"].T * scale).view(B, T, H, dh).transpose(1, 2)
    n_rot = rope_channels(dh)
    q, k = rope(q, n_rot), rope(k, n_rot)
    if NA > 1:
        zV = (xh @ p[f"{pre}.attn.sel_v"].T).view(B, T, H, NA)
        zO = (xh @ p[f"{pre}.attn.sel_o"].T).view(B, T, H, NA)
        hist["v"].append(zV)
        hist["o"].append(zO)
        gV, gO = topk_gates(zV, KA, gaps), topk_gates(zO, KA, gaps)
        Wv = p[f"{pre}.attn.v"].view(H, NA, d, dh)
        v = torch.einsum("btd,hedc,bthe->bthc", v_src, Wv, gV)             # (B, T, H, dh)
    else:
        v = (v_src @ p[f"{pre}.attn.v.weight"].T).view(B, T, H, dh)
    v = v.transpose(1, 2)                                                   # (B, H, T, dh)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    s = (q @ k.transpose(2, 3)).masked_fill(~causal, float("-inf"))        # scale 1.0
    Rh = (torch.softmax(s, dim=-1) @ v).transpose(1, 2)                     # (B, T, H, dh)
    if NA > 1:
        Wo = p[f"{pre}.attn.o"].view(H, NA, dh, d)
        return torch.einsum("bthc,hecd,bthe->btd", Rh, Wo, gO)
    gO = torch.sigmoid(xh @ p[f"{pre}.attn.sel_o"].T)                       # (B, T, H)
    return (Rh * gO[..., None]).reshape(B, T, H * dh) @ p[f"{pre}.attn.o.weight"].T


def sigma_moe(cfg, p, pre, x, xn, gaps, hist):
    z = xn @ p[f"{pre}.ffn.expert_sel"].T                                   # (B, T, N_E)
    hist["ffn"].append(z)
    gates = topk_gates(z, cfg["top-k"], gaps)
    src = x if cfg["norm-layout"] == "peri" else xn
    h = torch.relu(torch.einsum("btd,edf->btef", src, p[f"{pre}.ffn.keys"]))
    return torch.einsum("btef,efd,bte->btd", h, p[f"{pre}.ffn.values"], gates)


def negent(z_list):
    """A.5: z_list = the R logit tensors (B, T, ..., N) of one module; concatenated along time."""
    Z = torch.cat(z_list, dim=1)
    TR = Z.shape[1]
    logp = torch.log_softmax(Z, dim=-1)
    log_pbar = torch.logsumexp(logp, dim=1) - math.log(TR)                 # (B, ..., N)
    Hb = -(log_pbar.exp() * log_pbar).sum(-1)                               # (B, ...)
    return -Hb.mean()


def forward(cfg, p, ids, targets, gaps):
    L, G = cfg["n-layers"], cfg["n-groups"]
    assert L % G == 0
    R = L // G
    hist = [{"v": [], "o": [], "ffn": []} for _ in range(G)]
    x = p["tok_emb.weight"][ids]
    for r in range(R):
        for g in range(G):
            pre = f"blocks.{g}"
            xh = layer_norm(x, p, f"{pre}.ln1")
            x = x + attention(cfg, p, pre, x, xh, gaps, hist[g])
            xn = layer_norm(x, p, f"{pre}.ln2")
            x = x + sigma_moe(cfg, p, pre, x, xn, gaps, hist[g])
    x = layer_norm(x, p, "ln_f")
    logits = x @ p["lm_head.weight"].T + p["lm_head.bias"]
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    reg = torch.zeros(())
    for g in range(G):
        reg = reg + cfg["entropy-reg"] * negent(hist[g]["ffn"])
        if cfg["att-experts"] > 1:
            reg = reg + cfg["att-entropy-reg"] * (negent(hist[g]["v"]) + negent(hist[g]["o"]))
    return ce + reg, ce, reg


def make_params(cfg, gen):
    """Random parameters at scales like the init (A.6, s = sqrt(2/L)): W1, W2, W_V, W_O at the init's std; W_Q, W_K
    at twice it (less uniform attention); the selectors at 1/sqrt(d) (logits of order 1, so the top-k choices vary
    from token to token); the embedding at std 0.5; LN gains 1 + N(0, 0.1^2), LN and lm_head biases N(0, 0.1^2)."""
    V, d, L, G = cfg["vocab-size"], cfg["d-model"], cfg["n-layers"], cfg["n-groups"]
    H, dh, NA = cfg["n-heads"], cfg["head-dim"], cfg["att-experts"]
    NE, es = cfg["n-experts"], cfg["expert-size"]
    s = math.sqrt(2.0 / L)
    rnd = lambda *shape, std: torch.randn(*shape, generator=gen) * std
    p = {"tok_emb.weight": rnd(V, d, std=0.5)}
    for g in range(G):
        pre = f"blocks.{g}"
        p[f"{pre}.ln1.weight"], p[f"{pre}.ln1.bias"] = 1.0 + rnd(d, std=0.1), rnd(d, std=0.1)
        p[f"{pre}.attn.q.weight"] = rnd(H * dh, d, std=2 * s / math.sqrt(d))
        p[f"{pre}.attn.k.weight"] = rnd(H * dh, d, std=2 * s / math.sqrt(d))
        if NA > 1:
            p[f"{pre}.attn.v"] = rnd(H * NA, d, dh, std=s / math.sqrt(d))
            p[f"{pre}.attn.o"] = rnd(H * NA, dh, d, std=s / math.sqrt(H * dh))
            p[f"{pre}.attn.sel_v"] = rnd(H * NA, d, std=1.0 / math.sqrt(d))
            p[f"{pre}.attn.sel_o"] = rnd(H * NA, d, std=1.0 / math.sqrt(d))
        else:
            p[f"{pre}.attn.v.weight"] = rnd(H * dh, d, std=s / math.sqrt(d))
            p[f"{pre}.attn.o.weight"] = rnd(d, H * dh, std=s / math.sqrt(H * dh))
            p[f"{pre}.attn.sel_o"] = rnd(H, d, std=1.0 / math.sqrt(d))
        p[f"{pre}.ln2.weight"], p[f"{pre}.ln2.bias"] = 1.0 + rnd(d, std=0.1), rnd(d, std=0.1)
        p[f"{pre}.ffn.keys"] = rnd(NE, d, es, std=s / math.sqrt(d))
        p[f"{pre}.ffn.values"] = rnd(NE, es, d, std=s / math.sqrt(NE * es))
        p[f"{pre}.ffn.expert_sel"] = rnd(NE, d, std=1.0 / math.sqrt(d))
    p["ln_f.weight"], p["ln_f.bias"] = 1.0 + rnd(d, std=0.1), rnd(d, std=0.1)
    p["lm_head.weight"], p["lm_head.bias"] = rnd(V, d, std=1.0 / math.sqrt(d)), rnd(V, std=0.1)
    return p




def main():
    out_dir = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures")
    base = {"model": "moeut", "vocab-size": 32, "seq-len": 8, "d-model": 16, "n-layers": 4, "n-groups": 2,
            "n-heads": 2, "head-dim": 6, "n-experts": 5, "expert-size": 4, "top-k": 2, "att-experts": 3,
            "att-top-k": 2, "norm-layout": "peri", "entropy-reg": 0.01, "att-entropy-reg": 0.001}
    # name: (configuration, T)
    cases = {
        "peri": (base, 8),
        "na1": (dict(base, **{"att-experts": 1, "att-top-k": 1}), 8),
        "sigma": (dict(base, **{"n-layers": 3, "n-groups": 3, "head-dim": 10}), 8),
        "pre": (dict(base, **{"norm-layout": "pre"}), 8),
        "short": (base, 5),
    }
    B = 2
    for name, (cfg, T) in cases.items():
        for seed in range(1000, 1100):
            gen = torch.Generator().manual_seed(seed)
            raw = make_params(cfg, gen)
            # weft stores in float32: round here so both sides start from identical values
            params = {k: v.float().double().requires_grad_(True) for k, v in raw.items()}
            ids = torch.randint(0, cfg["vocab-size"], (B, T), generator=gen)
            targets = torch.randint(0, cfg["vocab-size"], (B, T), generator=gen)
            gaps = []
            loss, ce, reg = forward(cfg, params, ids, targets, gaps)
            if min(gaps) >= MIN_GAP:
                break
        else:
            raise RuntimeError(f"{name}: no seed gives top-k margins >= {MIN_GAP}")
        grads = dict(zip(params.keys(), torch.autograd.grad(loss, list(params.values()))))
        path = os.path.join(out_dir, f"moeut_{name}.fix")
        write_fixture(path, cfg, model_entries(ids, targets, params, grads, {"loss": loss, "ce": ce, "reg": reg}))
        print(f"{name}: T {T}, seed {seed}, loss {loss.item():.6f}, ce {ce.item():.6f}, reg {reg.item():.6f}, "
              f"min top-k gap {min(gaps):.4f} -> {os.path.relpath(path)}")
    print(f"torch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
