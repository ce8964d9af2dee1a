#!/usr/bin/env python3
"""Independent PyTorch reference of weft's GPT-style transformer (models/transformer/).

Writes one fixture per configuration to tests/fixtures/transformer_<name>.fix: the configuration,
input and target tokens, every parameter (named as in weft's ParamStore), the mean cross-entropy
loss and every parameter gradient, all computed here in float64 and stored as float32.
The C++ test (tests/models/test_transformer_reference.cpp) loads the parameters, runs weft and
compares loss and gradients. Run with Debian's python3-torch:  /usr/bin/python3 tools/reference/transformer_reference.py

Configuration keys (dict `cfg`, named after weft's flags): vocab, d_model, n_layers, n_heads, d_ff (0: 4 x d_model),
seq_len, activation (gelu = tanh approximation | relu | swiglu), norm (layernorm | rmsnorm), tie, position
(learned | sinusoidal | rope | alibi | sandwich | none), rope_fraction, rope_base (default 10000), sandwich_dim,
attention_window (default 0 = none; W > 0: query i sees keys j <= i with i - j < W, the mask of spec
positions-alibi-sandwich E.1, on top of any position scheme).
Biases (--bias false) need no key: a parameter absent from `p` is simply not added. Dropout is not applied
(the reference computes the evaluation loss).

RoPE rotates the first rope_channels(fraction, HS) channels of each head, computed exactly from the decimal the
user typed: x = Fraction(fraction text) * HS; n = round(x) when |x - round(x)| <= 1e-6, else floor(x); then n is
rounded down to even. This is the rule weft's C++ side (TransformerConfig::rope_channels) follows, so both agree
also where float32 would not (fraction 0.84 of a 150-channel head: 126 channels, not 124).

Fixture format (little-endian): text header lines, then "END\n", then the raw float32/int32 payload
of every entry in header order. Header lines: "config key value" and
"tensor <name> <f32|i32> <ndim> <d0> ... <dn-1>".
"""
import math
import os
from fractions import Fraction
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from fixture_file import model_entries, write_fixture  # noqa: E402  (the fixture file format)

torch.set_default_dtype(torch.float64)


def alibi_slopes(n):
    def p2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]
    if math.log2(n).is_integer():
        return p2(n)
    c = 2 ** math.floor(math.log2(n))
    return p2(c) + alibi_slopes(2 * c)[0::2][: n - c]


def sandwich_bias(n_heads, dbar, T):
    k = torch.arange(1, dbar // 2 + 1, dtype=torch.float64)
    omega = 10000.0 ** (-2.0 * k / dbar)
    d = torch.arange(T, dtype=torch.float64)
    table = torch.cos(d[:, None] * omega[None, :]).sum(-1) - dbar / 2.0   # (T,)
    i = torch.arange(T)
    delta = (i[:, None] - i[None, :]).clamp(min=0)                       # (T, T)
    r = torch.tensor([8.0 * h / n_heads for h in range(1, n_heads + 1)])
    return table[delta][None, :, :] / r[:, None, None]                    # (H, T, T)


def rope_channels(fraction, head_size):
    """Rotated channels per head (rule in the module docstring). `fraction` is the decimal as typed (str), or
    a float whose shortest repr is that decimal."""
    x = Fraction(fraction if isinstance(fraction, str) else repr(float(fraction))) * head_size
    n = round(x)
    if abs(x - n) > Fraction(1, 10 ** 6):
        n = math.floor(x)
    return n - n % 2


def rope(x, n_rot, base):
    # x (B, H, T, HS); NeoX half pairing on the first n_rot channels
    T = x.shape[2]
    half = n_rot // 2
    inv = base ** (-2.0 * torch.arange(half, dtype=torch.float64) / n_rot)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]   # (T, half)
    cos, sin = torch.cos(ang), torch.sin(ang)
    x1, x2, rest = x[..., :half], x[..., half:n_rot], x[..., n_rot:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], dim=-1)


def sinusoidal(T, C):
    pe = torch.zeros(T, C)
    t = torch.arange(T, dtype=torch.float64)
    for i in range(0, C, 2):
        a = t / (10000.0 ** (i / C))
        pe[:, i] = torch.sin(a)
        if i + 1 < C:
            pe[:, i + 1] = torch.cos(a)
    return pe


def make_params(cfg, gen):
    V, C, L, Fd = cfg["vocab"], cfg["d_model"], cfg["n_layers"], cfg["d_ff"]
    p = {}
    def rnd(*shape, s=0.3):
        return (torch.randn(*shape, generator=gen) * s)
    p["tok_emb.weight"] = rnd(V, C)
    if cfg["position"] == "learned":
        p["pos_emb.weight"] = rnd(cfg["seq_len"], C)
    fc_out = 2 * Fd if cfg["activation"] == "swiglu" else Fd
    for l in range(L):
        b = f"blocks.{l}"
        for ln in ("ln1", "ln2"):
            p[f"{b}.{ln}.weight"] = 1.0 + rnd(C, s=0.1)
            if cfg["norm"] == "layernorm":
                p[f"{b}.{ln}.bias"] = rnd(C, s=0.1)
        p[f"{b}.attn.qkv.weight"] = rnd(3 * C, C)
        p[f"{b}.attn.qkv.bias"] = rnd(3 * C, s=0.1)
        p[f"{b}.attn.proj.weight"] = rnd(C, C)
        p[f"{b}.attn.proj.bias"] = rnd(C, s=0.1)
        p[f"{b}.mlp.fc.weight"] = rnd(fc_out, C)
        p[f"{b}.mlp.fc.bias"] = rnd(fc_out, s=0.1)
        p[f"{b}.mlp.proj.weight"] = rnd(C, Fd)
        p[f"{b}.mlp.proj.bias"] = rnd(C, s=0.1)
    p["ln_f.weight"] = 1.0 + rnd(C, s=0.1)
    if cfg["norm"] == "layernorm":
        p["ln_f.bias"] = rnd(C, s=0.1)
    if not cfg["tie"]:
        p["lm_head.weight"] = rnd(V, C)
    # weft stores in float32: round here so both sides start from identical values
    return {k: v.float().double().requires_grad_(True) for k, v in p.items()}


def norm(cfg, x, w, b):
    eps = cfg.get("norm_eps", 1e-5)  # --norm-eps (weft's default 1e-5)
    if cfg["norm"] == "rmsnorm":
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w
    return F.layer_norm(x, (x.shape[-1],), w, b, eps=eps)


def forward(cfg, p, ids, targets, reduction="mean"):
    B, T = ids.shape
    C, H, L = cfg["d_model"], cfg["n_heads"], cfg["n_layers"]
    HS = C // H
    x = p["tok_emb.weight"][ids]
    if cfg["position"] == "learned":
        x = x + p["pos_emb.weight"][:T][None]
    elif cfg["position"] == "sinusoidal":
        x = x + sinusoidal(T, C).float().double()[None]
    mask = torch.ones(T, T).tril().bool()
    window = int(cfg.get("attention_window", 0))
    if window > 0:
        i = torch.arange(T)
        mask &= (i[:, None] - i[None, :]) < window
    bias = torch.zeros(H, T, T)
    if cfg["position"] == "alibi":
        m = torch.tensor(alibi_slopes(H)).float().double()
        i = torch.arange(T)
        bias = -m[:, None, None] * (i[:, None] - i[None, :]).double()[None]
    elif cfg["position"] == "sandwich":
        bias = sandwich_bias(H, cfg["sandwich_dim"], T).float().double()
    for l in range(L):
        b = f"blocks.{l}"
        h = norm(cfg, x, p[f"{b}.ln1.weight"], p.get(f"{b}.ln1.bias"))
        bias_of = lambda name: p.get(name, 0.0)
        qkv = h @ p[f"{b}.attn.qkv.weight"].T + bias_of(f"{b}.attn.qkv.bias")
        q, k, v = qkv.split(C, dim=-1)
        q, k, v = (t.reshape(B, T, H, HS).transpose(1, 2) for t in (q, k, v))   # (B, H, T, HS)
        if cfg["position"] == "rope":
            n_rot, base = rope_channels(cfg["rope_fraction"], HS), float(cfg.get("rope_base", 10000.0))
            q, k = rope(q, n_rot, base), rope(k, n_rot, base)
        s = q @ k.transpose(-1, -2) / math.sqrt(HS) + bias[None]
        s = s.masked_fill(~mask, float("-inf"))
        a = torch.softmax(s, dim=-1) @ v
        a = a.transpose(1, 2).reshape(B, T, C)
        x = x + a @ p[f"{b}.attn.proj.weight"].T + bias_of(f"{b}.attn.proj.bias")
        h = norm(cfg, x, p[f"{b}.ln2.weight"], p.get(f"{b}.ln2.bias"))
        f = h @ p[f"{b}.mlp.fc.weight"].T + bias_of(f"{b}.mlp.fc.bias")
        if cfg["activation"] == "swiglu":
            f1, f2 = f.split(cfg["d_ff"], dim=-1)
            f = F.silu(f1) * f2
        elif cfg["activation"] == "relu":
            f = F.relu(f)
        else:
            f = F.gelu(f, approximate="tanh")
        x = x + f @ p[f"{b}.mlp.proj.weight"].T + bias_of(f"{b}.mlp.proj.bias")
    x = norm(cfg, x, p["ln_f.weight"], p.get("ln_f.bias"))
    head = p["tok_emb.weight"] if cfg["tie"] else p["lm_head.weight"]
    logits = x @ head.T
    return F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(-1), ignore_index=-100, reduction=reduction)




def main():
    out_dir = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures")
    base = dict(vocab=29, d_model=24, n_layers=2, n_heads=6, d_ff=40, seq_len=12, activation="gelu",
                norm="layernorm", tie=True, position="learned", rope_fraction=1.0, sandwich_dim=16)
    variants = {p: dict(base, position=p) for p in ("learned", "sinusoidal", "rope", "alibi", "sandwich", "none")}
    variants["rope_half_swiglu_rmsnorm_untied"] = dict(base, position="rope", rope_fraction=0.5, activation="swiglu",
                                                       norm="rmsnorm", tie=False)
    variants["alibi_relu_3heads"] = dict(base, position="alibi", activation="relu", n_heads=3)
    variants["alibi_window3"] = dict(base, position="alibi", attention_window=3)  # W < T = 9
    variants["rope_window1"] = dict(base, position="rope", attention_window=1)    # each token sees only itself
    for name, cfg in variants.items():
        gen = torch.Generator().manual_seed(1234)
        params = make_params(cfg, gen)
        B, T = 2, 9
        ids = torch.randint(0, cfg["vocab"], (B, T), generator=gen)
        targets = torch.randint(0, cfg["vocab"], (B, T), generator=gen)
        targets[0, 3] = -100
        loss = forward(cfg, params, ids, targets)
        grads = dict(zip(params.keys(), torch.autograd.grad(loss, list(params.values()))))
        path = os.path.join(out_dir, f"transformer_{name}.fix")
        write_fixture(path, cfg, model_entries(ids, targets, params, grads, {"loss": loss}), bools_as_int=True)
        print(f"{name}: loss {loss.item():.6f} -> {os.path.relpath(path)}")
    print(f"torch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
