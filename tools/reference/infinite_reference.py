#!/usr/bin/env python3
"""Independent PyTorch reference of weft's infinity-former (models/infinite_memory/), written from the spec
(../shared/specs/infinite-memory.md part B: B.1 basis, B.2 padded ridge regression, B.3 continuous attention, B.4 the
Conv1d mask, B.5 the unbounded update, B.6 sticky bin masses, B.7 the sigma-only KL, B.8 GPT-2 integration), not
from weft's C++. Dense float64 torch on float32-rounded inputs; the ridge inverse by torch.linalg.solve.

Writes three fixtures to tests/fixtures/ in the format of tools/reference/transformer_reference.py (reader
tests/harness/fixture.{h,cpp}):
  infinite_update.fix     one memory update: coef_past (B, N, e), x_new (B, L, e), mask.weight (e, 3, e) (torch's
                          Conv1d weight (e, e, 3) permuted to [out, tap, in]), mask.bias (e), samples (B, M) (sorted
                          positions in the old signal, e.g. sticky draws), R (B, N, e); outputs coef (contraction,
                          B.5) and coef_first (first update, B.2), both of the masked x_new; objective
                          <R, coef> + <R, coef_first>, grad.<input> for every input; plus the sticky bin masses
                          sticky.p (D) of sticky.mu, sticky.sigma (n) (B.6).
  infinite_attention.fix  one attention call (B.3, B.7): q (B, T, H, d) (the unscaled STM query), coef (B, N, e),
                          key/value/out.weight (e, e), mu/sigma.weight (1, N), R (B, T, e); outputs z, mu, sigma_sq,
                          kl; objective <R, z> + kl; grad.<input> for every input.
  infinite_model.fix      a tiny GPT-2 infinity-former over three consecutive segments of two streams (uniform
                          samples): inputs<s>/targets<s> (B, T) for s = 1, 2, 3, loss<s> = ce + ltm-kl * kl and
                          kl<s>, every parameter (weft's names), grad.<name> = d (loss1 + loss2 + loss3) / d param,
                          the memory detached between segments.
Run with Debian's python3-torch:  /usr/bin/python3 tools/reference/infinite_reference.py

Model (B.8 GPT-2): x = tok_emb[ids] + pos_emb[0..T-1]; per layer l: h = LN1(x); q|k|v = h W^T + b (heads of d);
a = proj(softmax(q k^T / sqrt(d) + causal) v) + [layers with memory, when a previous segment exists] LTM_l;
x = x + a; x = x + proj(gelu_tanh(fc(LN2(x)))); logits = LN_f(x) tok_emb^T (tied); ce = mean over targets != -100.
LTM_l: new vectors X = previous segment's layer-l INPUT (pre-LN1, detached); X~ = X * sigmoid(conv1d_3(X)) (time axis,
zero padding 1); first update: B = G_L^T X~; later: X_old = psi(u) B_past with u = m / M (m = 1..M),
B = G_inf^T [X_old; X~]; B_past <- B.detach(). keys = B W_K^T, values = B W_V^T split into heads; s = q k^T / sqrt(d);
mu = sigmoid(s w_mu), sigma^2 = max(softplus(s w_sigma), floor); r_n = N(mu; mu_n, sigma^2 + sigma_n^2);
z = out(concat_h values_h^T r); kl = mean over (B, H, q) of 1/2 (sigma^2/s0^2 - log(sigma^2/s0^2) - 1) (sigma-only,
the paper's intent; the official GPT-2 mu_0 = -1 term is not used), summed over layers; loss = ce + ltm-kl * kl.
Basis: N Gaussians, mu_n = (n div W) / (N/W - 1), sigma_n = widths[n mod W] (meshgrid 'ij' of centres x widths).
G_L (L even): positions -0.5 + (j + 0.5)/L, j < 2L, rows L/2 .. L/2 + L of F^T (F F^T + lambda I)^-1.
G_inf: [pads < 0; tau m/M; tau + (1 - tau) j/L; pads > 1], pads from linspace(-0.5 + 1/(2L + M), 1.5 - 1/(2L + M),
2(L + M)), rows (L + M)/2 .. trimmed as the official compute_G (asserted to be the real ones here).
Sticky masses: edges d/D, outer edges -1e-6 and 1 + 1e-6, p_d = sum_i Phi((e_{d+1} - mu_i)/sigma_i) -
Phi((e_d - mu_i)/sigma_i), normalised.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from fixture_file import write_fixture  # noqa: E402  (the fixture file format)

torch.set_default_dtype(torch.float64)


def basis(N, widths):
    mu, sigma = torch.meshgrid(torch.linspace(0, 1, N // len(widths)), torch.tensor(widths), indexing="ij")
    return mu.flatten(), sigma.flatten()


def psi(t, bmu, bsig):  # (P) -> (P, N)
    t = t.unsqueeze(1)
    return torch.exp(-(t - bmu) ** 2 / (2 * bsig ** 2)) / (bsig * math.sqrt(2 * math.pi))


def ridge(positions, trim, bmu, bsig, lam):
    Fm = psi(positions, bmu, bsig).t()  # (N, P)
    N = Fm.shape[0]
    G = torch.linalg.solve(Fm @ Fm.t() + lam * torch.eye(N), Fm).t()  # F^T (F F^T + lam I)^-1 (symmetric)
    return G[trim:G.shape[0] - trim]


def G_first(L, bm, bs, lam):
    assert L % 2 == 0
    pos = -0.5 + (torch.arange(2 * L, dtype=torch.float64) + 0.5) / L
    return ridge(pos, L // 2, bm, bs, lam)


def G_inf(M, L, tau, bm, bs, lam):
    n = L + M
    assert n % 2 == 0
    s = 1.0 / (2 * L + M)
    pad = torch.linspace(-0.5 + s, 1.5 - s, 2 * n)
    left, right = pad[pad < 0], pad[pad > 1]
    assert len(left) == n // 2 and len(right) == n // 2, "official trimming would not keep the real rows"
    real = torch.cat([tau * torch.arange(1, M + 1) / M, tau + (1 - tau) * torch.arange(1, L + 1) / L])
    return ridge(torch.cat([left, real, right]), n // 2, bm, bs, lam)


def mask_gate(x, w, b):  # x (B, L, e), w (e, 3, e) [out, tap, in]
    conv = F.conv1d(x.transpose(1, 2), w.permute(0, 2, 1), b, padding=1).transpose(1, 2)
    return x * torch.sigmoid(conv)


def update(x_new, coef_past, samples, cfg, bm, bs):
    """x_new (B, L, e) already masked; coef_past (B, N, e) or None; samples (B, M) -> (B, N, e)."""
    L = x_new.shape[1]
    if coef_past is None:
        return G_first(L, bm, bs, cfg["ltm-ridge"]).t() @ x_new
    M = samples.shape[1]
    x_old = torch.stack([psi(samples[b], bm, bs) @ coef_past[b] for b in range(x_new.shape[0])])
    G = G_inf(M, L, cfg["ltm-tau"], bm, bs, cfg["ltm-ridge"])
    return G.t() @ torch.cat([x_old, x_new], 1)


def attend(q, coef, p, cfg, bm, bs):
    """q (B, T, H, d), coef (B, N, e) -> z (B, T, e), mu, sigma_sq (B, H, T), kl (scalar)."""
    B, T, H, d = q.shape
    N = coef.shape[1]
    keys = (coef @ p["key"].t()).view(B, N, H, d).transpose(1, 2)
    values = (coef @ p["value"].t()).view(B, N, H, d).transpose(1, 2)
    s = q.transpose(1, 2) @ keys.transpose(-1, -2) / math.sqrt(d)  # (B, H, T, N)
    mu = torch.sigmoid(s @ p["mu"].t()).squeeze(-1)
    sigma_sq = torch.clamp(F.softplus(s @ p["sigma"].t()), min=cfg["ltm-sigma-floor"]).squeeze(-1)
    var = sigma_sq.unsqueeze(-1) + bs ** 2
    r = torch.exp(-(mu.unsqueeze(-1) - bm) ** 2 / (2 * var)) / torch.sqrt(2 * math.pi * var)
    ctx = (r @ values).transpose(1, 2).reshape(B, T, H * d)
    z = ctx @ p["out"].t()
    a = sigma_sq / cfg["ltm-sigma0"] ** 2
    kl = (0.5 * (a - torch.log(a) - 1)).mean()
    return z, mu, sigma_sq, kl


def sticky_mass(mu, sigma, D):
    edges = torch.linspace(0, 1, D + 1)
    edges[0], edges[-1] = -1e-6, 1 + 1e-6
    n = torch.distributions.Normal(mu.unsqueeze(0), sigma.unsqueeze(0))
    p = (n.cdf(edges[1:].unsqueeze(1)) - n.cdf(edges[:-1].unsqueeze(1))).sum(1)
    return p / p.sum()


def layer_norm(x, p, name):
    return F.layer_norm(x, (x.shape[-1],), p[name + ".weight"], p[name + ".bias"], 1e-5)


def model_segment(cfg, p, ids, targets, memory, bm, bs):
    """One segment (B, T); memory: per layer {"mem": (B, L, e) or None, "coef": (B, N, e) or None}, updated."""
    B, T = ids.shape
    C, H = cfg["d-model"], cfg["n-heads"]
    d = C // H
    x = p["tok_emb.weight"][ids] + p["pos_emb.weight"][:T]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    kl_total = torch.zeros(())
    M = cfg["ltm-samples"]
    for l in range(cfg["n-layers"]):
        pre = f"blocks.{l}"
        h = layer_norm(x, p, pre + ".ln1")
        qkv = h @ p[pre + ".attn.qkv.weight"].t() + p[pre + ".attn.qkv.bias"]
        q, k, v = [t.view(B, T, H, d) for t in qkv.split(C, -1)]
        att = (q.transpose(1, 2) @ k.transpose(1, 2).transpose(-1, -2)) / math.sqrt(d)
        att = torch.softmax(att.masked_fill(~causal, float("-inf")), -1) @ v.transpose(1, 2)
        a = att.transpose(1, 2).reshape(B, T, C) @ p[pre + ".attn.proj.weight"].t() + p[pre + ".attn.proj.bias"]
        mem = memory[l]
        if mem["mem"] is not None:
            w = {k2: p[f"{pre}.ltm.{k2}.weight"] for k2 in ("key", "value", "out", "mu", "sigma")}
            x_new = mask_gate(mem["mem"], p[pre + ".ltm.mask.weight"], p[pre + ".ltm.mask.bias"])
            u = (torch.arange(1, M + 1) / M).repeat(B, 1)
            coef = update(x_new, mem["coef"], u, cfg, bm, bs)
            z, _, _, kl = attend(q, coef, w, cfg, bm, bs)
            a = a + z
            kl_total = kl_total + kl
            mem["coef"] = coef.detach()
        mem["mem"] = x.detach()
        x = x + a
        hh = layer_norm(x, p, pre + ".ln2")
        f = F.gelu(hh @ p[pre + ".mlp.fc.weight"].t() + p[pre + ".mlp.fc.bias"], approximate="tanh")
        x = x + f @ p[pre + ".mlp.proj.weight"].t() + p[pre + ".mlp.proj.bias"]
    logits = layer_norm(x, p, "ln_f") @ p["tok_emb.weight"].t()
    ce = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(-1), ignore_index=-100)
    return ce + cfg["ltm-kl"] * kl_total, kl_total




def rounded(t):
    return t.float().double().requires_grad_(True)


def main():
    out_dir = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures")
    gen = torch.Generator().manual_seed(14)
    rnd = lambda *shape, std=1.0: torch.randn(*shape, generator=gen) * std
    mem_cfg = {"ltm-basis": 8, "ltm-widths": "0.05,0.1", "ltm-ridge": 0.5, "ltm-samples": 4, "ltm-tau": 0.5,
               "ltm-sigma-floor": 1e-4, "ltm-sigma0": 0.05}
    bm, bs = basis(8, [0.05, 0.1])

    # ---- one memory update (B = 2, L = 6, M = 4, N = 8, e = 6) and the sticky masses
    B, L, M, N, e = 2, 6, 4, 8, 6
    x = {"coef_past": rounded(rnd(B, N, e, std=0.3)), "x_new": rounded(rnd(B, L, e)),
         "mask.weight": rounded(rnd(e, 3, e, std=0.4)), "mask.bias": rounded(rnd(e, std=0.2))}
    samples = torch.sort(torch.randint(0, 16, (B, M), generator=gen).double() / 16, -1)[0]
    R = rnd(B, N, e).float().double()
    xm = mask_gate(x["x_new"], x["mask.weight"], x["mask.bias"])
    coef = update(xm, x["coef_past"], samples, mem_cfg, bm, bs)
    coef_first = update(xm, None, None, mem_cfg, bm, bs)
    grads = torch.autograd.grad((R * coef).sum() + (R * coef_first).sum(), list(x.values()))
    smu, ssig = torch.rand(10, generator=gen).float().double(), (0.02 + 0.2 * torch.rand(10, generator=gen)).float().double()
    sp = sticky_mass(smu, ssig, 8)
    entries = [(k, v) for k, v in x.items()] + [("samples", samples), ("R", R), ("coef", coef),
                                               ("coef_first", coef_first)]
    entries += [("grad." + k, g) for k, g in zip(x.keys(), grads)]
    entries += [("sticky.mu", smu), ("sticky.sigma", ssig), ("sticky.p", sp)]
    write_fixture(os.path.join(out_dir, "infinite_update.fix"), dict(mem_cfg, **{"ltm-sticky-bins": 8}), entries)
    print(f"update: |coef| {coef.abs().max():.4f}, |coef_first| {coef_first.abs().max():.4f}")

    # ---- one attention call (B = 2, T = 5, H = 2, d = 3)
    T, H, d = 5, 2, 3
    a_in = {"q": rounded(rnd(B, T, H, d)), "coef": rounded(rnd(B, N, e, std=0.5)),
            "key.weight": rounded(rnd(e, e, std=0.5)), "value.weight": rounded(rnd(e, e, std=0.5)),
            "out.weight": rounded(rnd(e, e, std=0.5)), "mu.weight": rounded(rnd(1, N, std=0.5)),
            "sigma.weight": rounded(rnd(1, N, std=0.5))}
    w = {k.split(".")[0]: v for k, v in a_in.items() if k.endswith(".weight")}
    Rz = rnd(B, T, e).float().double()
    z, mu, sigma_sq, kl = attend(a_in["q"], a_in["coef"], w, mem_cfg, bm, bs)
    grads = torch.autograd.grad((Rz * z).sum() + kl, list(a_in.values()))
    entries = [(k, v) for k, v in a_in.items()] + [("R", Rz), ("z", z), ("mu", mu), ("sigma_sq", sigma_sq),
                                                  ("kl", kl.reshape(1))]
    entries += [("grad." + k, g) for k, g in zip(a_in.keys(), grads)]
    write_fixture(os.path.join(out_dir, "infinite_attention.fix"), mem_cfg, entries)
    print(f"attention: kl {kl.item():.6f}, sigma^2 in [{sigma_sq.min():.4f}, {sigma_sq.max():.4f}]")

    # ---- a tiny model over three consecutive segments
    cfg = {"model": "infinite", "vocab-size": 13, "seq-len": 6, "d-model": 8, "n-layers": 2, "n-heads": 2,
           "d-ff": 12, "ltm-sticky": False, "ltm-kl": 0.01, "ltm-mask": True, "ltm-detach": True}
    cfg.update(mem_cfg)
    V, C, Fd, T = 13, 8, 12, 6
    p = {"tok_emb.weight": rnd(V, C, std=0.5), "pos_emb.weight": rnd(T, C, std=0.3)}
    for l in range(2):
        pre = f"blocks.{l}"
        p[pre + ".ln1.weight"], p[pre + ".ln1.bias"] = 1 + rnd(C, std=0.1), rnd(C, std=0.1)
        p[pre + ".attn.qkv.weight"], p[pre + ".attn.qkv.bias"] = rnd(3 * C, C, std=0.4), rnd(3 * C, std=0.1)
        p[pre + ".attn.proj.weight"], p[pre + ".attn.proj.bias"] = rnd(C, C, std=0.3), rnd(C, std=0.1)
        p[pre + ".ln2.weight"], p[pre + ".ln2.bias"] = 1 + rnd(C, std=0.1), rnd(C, std=0.1)
        p[pre + ".mlp.fc.weight"], p[pre + ".mlp.fc.bias"] = rnd(Fd, C, std=0.3), rnd(Fd, std=0.1)
        p[pre + ".mlp.proj.weight"], p[pre + ".mlp.proj.bias"] = rnd(C, Fd, std=0.3), rnd(C, std=0.1)
        for k2 in ("key", "value", "out"):
            p[f"{pre}.ltm.{k2}.weight"] = rnd(C, C, std=0.4)
        p[pre + ".ltm.mu.weight"], p[pre + ".ltm.sigma.weight"] = rnd(1, 8, std=0.5), rnd(1, 8, std=0.5)
        p[pre + ".ltm.mask.weight"], p[pre + ".ltm.mask.bias"] = rnd(C, 3, C, std=0.3), rnd(C, std=0.1)
    p["ln_f.weight"], p["ln_f.bias"] = 1 + rnd(C, std=0.1), rnd(C, std=0.1)
    p = {k: rounded(v) for k, v in p.items()}
    memory = [{"mem": None, "coef": None} for _ in range(2)]
    total = torch.zeros(())
    entries = []
    for s in (1, 2, 3):
        ids = torch.randint(0, V, (B, T), generator=gen)
        tg = torch.randint(0, V, (B, T), generator=gen)
        tg[0, 2] = -100
        loss, klv = model_segment(cfg, p, ids, tg, memory, bm, bs)
        total = total + loss
        entries += [(f"inputs{s}", ids.int()), (f"targets{s}", tg.int()), (f"loss{s}", loss.reshape(1)),
                    (f"kl{s}", klv.reshape(1))]
        print(f"model segment {s}: loss {loss.item():.6f}, kl {klv.item():.6f}")
    grads = torch.autograd.grad(total, list(p.values()))
    entries += [(k, v) for k, v in p.items()] + [("grad." + k, g) for k, g in zip(p.keys(), grads)]
    write_fixture(os.path.join(out_dir, "infinite_model.fix"), cfg, entries)
    print(f"torch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
