#!/usr/bin/env python3
"""Independent PyTorch reference of weft's masked mixer (models/mixer/) and transformer-mixer hybrid (models/hybrid/).

Written from the spec (../shared/specs/masked-mixer.md A.2-A.6) and the official code it quotes, not from weft's
C++: token mixing is PyTorch's own Conv1d (sequence positions as channels, d_model as the convolution axis) with
the weight masked by torch.tril per tap, exactly as blbadger/maskedmixers does before every forward; the hybrid's
layer is Hugging Face's Llama decoder layer (q/k/v/o projections without bias, rotate_half RoPE, RMSNorm,
down(silu(gate) * up)) plus MixerLayer on the attention output, as in blbadger/transformers (branch transfixer).

Writes one fixture per configuration to tests/fixtures/{mixer,hybrid}_<name>.fix in the format of
tools/reference/transformer_reference.py (text header, "END", raw little-endian payload): the configuration,
input and target tokens, every parameter (named as in weft's ParamStore), the mean cross-entropy loss and every
parameter gradient, computed here in float64 and stored as float32. tests/models/test_mixer_reference.cpp loads
the parameters into weft, runs it and compares. Run with Debian's python3-torch:
    /usr/bin/python3 tools/reference/mixer_reference.py

Configuration keys are weft's command-line flags (`config model mixer`, `config d-model 24`, ...), so the test
builds the model through the registry. Parameters are random (not the init): the mixing matrices get non-zero
upper triangles, which both sides must ignore (tril before use; their gradient is then zero). Inputs may be
shorter than L = seq-len: the official model always runs at T = L; at T < L the causal model's outputs are those
of the top-left T x T block (W[:T, :T], c[:T]), which is what is computed here.

Mapping of the official modules to weft's parameter names (per layer l, prefix blocks.<l>):
  mixer:  ln_seq, ln_ch (LayerNorm), mix.{weight,bias} (Conv1d(L, L, 1) weight[:, :, 0] and bias; flat),
          mix.<p> (parallel convs p), mix.{in,out} (expanded), mix.tap<u>.weight = conv.weight[:, :, u] with the
          conv's one bias as mix.tap0.bias (kernel k), mix.proj / mix.head<h> / mix.out (multi-headed: the
          per-head projections P_h (d/H, d), q_h stacked as rows h*d/H.. of mix.proj; per-head Conv1d(L, L, 1);
          output projection Linear(d, d) with bias), ffn.fc / ffn.proj (Linear, bias), tok_emb (nn.Embedding),
          lm_head (Linear without bias).
  hybrid: ln1 = input_layernorm, ln2 = post_attention_layernorm, attn.qkv = cat(q_proj, k_proj, v_proj) rows,
          attn.proj = o_proj, mix = MixerLayer's Conv1d(L, L, 1), mlp.fc = cat(gate_proj, up_proj) rows,
          mlp.proj = down_proj, ln_f = model.norm, tok_emb = embed_tokens, lm_head = lm_head (untied).
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from fixture_file import model_entries, write_fixture  # noqa: E402  (the fixture file format)

torch.set_default_dtype(torch.float64)


# ---- the masked token mixing, as the official code computes it
def masked_conv(u, weight, bias):
    """u (B, T, d); weight (L, L, k) of Conv1d(L, L, k, padding='same'); bias (L) or None. The model runs at
    T <= L: the top-left T x T block of every tap and the first T biases."""
    T = u.shape[1]
    w = torch.tril(weight.permute(2, 0, 1)).permute(1, 2, 0)   # tril over (L_out, L_in) for every tap
    w = w[:T, :T]
    b = None if bias is None else bias[:T]
    return F.conv1d(u, w, b, padding="same")


def conv_weight(p, names):
    """Stack weft's (L, L) tap matrices into a Conv1d weight (L, L, k)."""
    return torch.stack([p[n] for n in names], dim=-1)


# ---- masked mixer (spec A.2, A.4, A.5)
def mixer_mixing(cfg, p, pre, u):
    heads, kernel, parallel = cfg["mixer-heads"], cfg["mixer-kernel"], cfg["mixer-parallel"]
    if heads > 0:                                   # blog: per-head projection, masked mixing, concat, out proj
        d = cfg["d-model"]
        dh = d // heads
        outs = []
        for h in range(heads):
            P_h = p[f"{pre}.mix.proj.weight"][h * dh:(h + 1) * dh]
            q_h = p[f"{pre}.mix.proj.bias"][h * dh:(h + 1) * dh]
            x_h = u @ P_h.T + q_h
            outs.append(masked_conv(x_h, p[f"{pre}.mix.head{h}.weight"][:, :, None], p[f"{pre}.mix.head{h}.bias"]))
        return torch.cat(outs, dim=-1) @ p[f"{pre}.mix.out.weight"].T + p[f"{pre}.mix.out.bias"]
    if cfg["mixer-expanded"]:                       # ConvForward: conv, GELU, conv
        y = masked_conv(u, p[f"{pre}.mix.in.weight"][:, :, None], p[f"{pre}.mix.in.bias"])
        y = F.gelu(y)
        return masked_conv(y, p[f"{pre}.mix.out.weight"][:, :, None], p[f"{pre}.mix.out.bias"])
    if kernel > 1:                                  # one Conv1d(L, L, k, padding='same'): one bias
        w = conv_weight(p, [f"{pre}.mix.tap{t}.weight" for t in range(kernel)])
        return masked_conv(u, w, p[f"{pre}.mix.tap0.bias"])
    if parallel > 1:
        return sum(masked_conv(u, p[f"{pre}.mix.{q}.weight"][:, :, None], p[f"{pre}.mix.{q}.bias"])
                   for q in range(parallel))
    return masked_conv(u, p[f"{pre}.mix.weight"][:, :, None], p[f"{pre}.mix.bias"])


def mixer_forward(cfg, p, ids, targets):
    d = cfg["d-model"]
    x = p["tok_emb.weight"][ids]
    for l in range(cfg["n-layers"]):
        pre = f"blocks.{l}"
        u = F.layer_norm(x, (d,), p[f"{pre}.ln_seq.weight"], p[f"{pre}.ln_seq.bias"], eps=1e-5)
        x = x + mixer_mixing(cfg, p, pre, u)
        h = F.layer_norm(x, (d,), p[f"{pre}.ln_ch.weight"], p[f"{pre}.ln_ch.bias"], eps=1e-5)
        h = F.gelu(h @ p[f"{pre}.ffn.fc.weight"].T + p[f"{pre}.ffn.fc.bias"])       # nn.GELU(): exact erf
        x = x + h @ p[f"{pre}.ffn.proj.weight"].T + p[f"{pre}.ffn.proj.bias"]
    logits = x @ p["lm_head.weight"].T                                               # no final norm, no bias
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


def mixer_params(cfg, gen):
    V, d, L, Fd = cfg["vocab-size"], cfg["d-model"], cfg["seq-len"], cfg["d-ff"]
    rnd = lambda *shape, s=0.3: torch.randn(*shape, generator=gen) * s
    p = {"tok_emb.weight": rnd(V, d)}
    for l in range(cfg["n-layers"]):
        pre = f"blocks.{l}"
        p[f"{pre}.ln_seq.weight"], p[f"{pre}.ln_seq.bias"] = 1.0 + rnd(d, s=0.1), rnd(d, s=0.1)
        tri = lambda name, bias=True: p.update({f"{pre}.{name}.weight": rnd(L, L),
                                                **({f"{pre}.{name}.bias": rnd(L, s=0.1)} if bias else {})})
        if cfg["mixer-heads"] > 0:
            p[f"{pre}.mix.proj.weight"], p[f"{pre}.mix.proj.bias"] = rnd(d, d), rnd(d, s=0.1)
            for h in range(cfg["mixer-heads"]):
                tri(f"mix.head{h}")
            p[f"{pre}.mix.out.weight"], p[f"{pre}.mix.out.bias"] = rnd(d, d), rnd(d, s=0.1)
        elif cfg["mixer-expanded"]:
            tri("mix.in")
            tri("mix.out")
        elif cfg["mixer-kernel"] > 1:
            for t in range(cfg["mixer-kernel"]):
                tri(f"mix.tap{t}", bias=(t == 0))
        elif cfg["mixer-parallel"] > 1:
            for q in range(cfg["mixer-parallel"]):
                tri(f"mix.{q}")
        else:
            tri("mix")
        p[f"{pre}.ln_ch.weight"], p[f"{pre}.ln_ch.bias"] = 1.0 + rnd(d, s=0.1), rnd(d, s=0.1)
        p[f"{pre}.ffn.fc.weight"], p[f"{pre}.ffn.fc.bias"] = rnd(Fd, d), rnd(Fd, s=0.1)
        p[f"{pre}.ffn.proj.weight"], p[f"{pre}.ffn.proj.bias"] = rnd(d, Fd), rnd(d, s=0.1)
    p["lm_head.weight"] = rnd(V, d)
    return p


# ---- hybrid: Hugging Face Llama decoder layer + MixerLayer (spec A.6)
def rms_norm(x, w, eps):                            # LlamaRMSNorm
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def llama_rope(q, k, base):                         # LlamaRotaryEmbedding + apply_rotary_pos_emb, (B, H, T, hd)
    T, hd = q.shape[2], q.shape[3]
    inv_freq = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def hybrid_forward(cfg, p, ids, targets):
    B, T = ids.shape
    d, H, Fd = cfg["d-model"], cfg["n-heads"], cfg["d-ff"]
    hd, eps = d // H, cfg["norm-eps"]
    x = p["tok_emb.weight"][ids]
    causal = torch.ones(T, T).tril().bool()
    for l in range(cfg["n-layers"]):
        pre = f"blocks.{l}"
        u = rms_norm(x, p[f"{pre}.ln1.weight"], eps)
        Wq, Wk, Wv = p[f"{pre}.attn.qkv.weight"].split(d, dim=0)
        q, k, v = ((u @ W.T).view(B, T, H, hd).transpose(1, 2) for W in (Wq, Wk, Wv))
        q, k = llama_rope(q, k, cfg["rope-base"])
        s = (q @ k.transpose(2, 3)) / math.sqrt(hd)
        att = torch.softmax(s.masked_fill(~causal, float("-inf")), dim=-1) @ v
        a = att.transpose(1, 2).reshape(B, T, d) @ p[f"{pre}.attn.proj.weight"].T
        mix_in = a if cfg["hybrid-layout"] == "serial" else u
        m = masked_conv(mix_in, p[f"{pre}.mix.weight"][:, :, None], p[f"{pre}.mix.bias"])
        x = a + m + x                                       # hidden_states + mixer_output + residual
        h = rms_norm(x, p[f"{pre}.ln2.weight"], eps)
        gate, up = p[f"{pre}.mlp.fc.weight"].split(Fd, dim=0)
        x = x + (F.silu(h @ gate.T) * (h @ up.T)) @ p[f"{pre}.mlp.proj.weight"].T
    x = rms_norm(x, p["ln_f.weight"], eps)
    logits = x @ p["lm_head.weight"].T
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


def hybrid_params(cfg, gen):
    V, d, L, Fd = cfg["vocab-size"], cfg["d-model"], cfg["seq-len"], cfg["d-ff"]
    rnd = lambda *shape, s=0.3: torch.randn(*shape, generator=gen) * s
    p = {"tok_emb.weight": rnd(V, d)}
    for l in range(cfg["n-layers"]):
        pre = f"blocks.{l}"
        p[f"{pre}.ln1.weight"] = 1.0 + rnd(d, s=0.1)
        p[f"{pre}.attn.qkv.weight"] = rnd(3 * d, d)
        p[f"{pre}.attn.proj.weight"] = rnd(d, d)
        p[f"{pre}.mix.weight"], p[f"{pre}.mix.bias"] = rnd(L, L), rnd(L, s=0.1)
        p[f"{pre}.ln2.weight"] = 1.0 + rnd(d, s=0.1)
        p[f"{pre}.mlp.fc.weight"] = rnd(2 * Fd, d)
        p[f"{pre}.mlp.proj.weight"] = rnd(d, Fd)
    p["ln_f.weight"] = 1.0 + rnd(d, s=0.1)
    p["lm_head.weight"] = rnd(V, d)
    return p




def main():
    out_dir = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures")
    mixer = {"model": "mixer", "vocab-size": 29, "seq-len": 12, "d-model": 24, "n-layers": 2, "d-ff": 40,
             "mixer-heads": 0, "mixer-kernel": 1, "mixer-expanded": False, "mixer-parallel": 1}
    hybrid = {"model": "hybrid", "vocab-size": 29, "seq-len": 12, "d-model": 24, "n-layers": 2, "n-heads": 3,
              "d-ff": 40, "rope-base": 10000.0, "norm-eps": 1e-6, "hybrid-layout": "serial"}
    # name: (configuration, T); T < L runs on the matrices' top-left block.
    cases = {
        "mixer_flat": (mixer, 9),
        "mixer_flat_full": (mixer, 12),
        "mixer_heads": (dict(mixer, **{"mixer-heads": 3}), 12),
        "mixer_heads_short": (dict(mixer, **{"mixer-heads": 2}), 7),
        "mixer_kernel": (dict(mixer, **{"mixer-kernel": 4}), 9),      # even k: 'same' pads 1 left, 2 right
        "mixer_kernel3": (dict(mixer, **{"mixer-kernel": 3}), 12),
        "mixer_expanded": (dict(mixer, **{"mixer-expanded": True}), 9),
        "mixer_parallel": (dict(mixer, **{"mixer-parallel": 2}), 12),
        "hybrid_serial": (hybrid, 9),
        "hybrid_serial_full": (dict(hybrid, **{"n-heads": 4}), 12),
        # a large eps and another RoPE base so that a wrong --norm-eps or --rope-base shows
        "hybrid_parallel": (dict(hybrid, **{"hybrid-layout": "parallel", "norm-eps": 0.25, "rope-base": 500.0}), 9),
    }
    for name, (cfg, T) in cases.items():
        gen = torch.Generator().manual_seed(4321)
        is_mixer = cfg["model"] == "mixer"
        raw = (mixer_params if is_mixer else hybrid_params)(cfg, gen)
        # weft stores in float32: round here so both sides start from identical values
        params = {k: v.float().double().requires_grad_(True) for k, v in raw.items()}
        B = 2
        ids = torch.randint(0, cfg["vocab-size"], (B, T), generator=gen)
        targets = torch.randint(0, cfg["vocab-size"], (B, T), generator=gen)
        targets[0, 3] = -100
        loss = (mixer_forward if is_mixer else hybrid_forward)(cfg, params, ids, targets)
        grads = dict(zip(params.keys(), torch.autograd.grad(loss, list(params.values()))))
        path = os.path.join(out_dir, f"{name}.fix")
        write_fixture(path, cfg, model_entries(ids, targets, params, grads, {"loss": loss}))
        print(f"{name}: T {T}, loss {loss.item():.6f} -> {os.path.relpath(path)}")
    print(f"torch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
