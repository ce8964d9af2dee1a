#!/usr/bin/env python3
"""PyTorch eager baseline for tests/bench/bench_train.sh: trains the same GPT-style architecture as
`weft train` (pre-LN, LayerNorm, tanh-GELU, d_ff = 4d, biases, learned positions, tied embeddings,
AdamW, global-norm clipping) on random tokens, on the CPU with a given number of threads or on a GPU
(--device cuda; --dtype bf16 runs under autocast with fp32 weights, like weft's mixed precision), and
prints one JSON line: torch version, tokens/s (steps after the warm-up), ms per step, peak RSS or peak
GPU memory. --flush-denormal 1 calls torch.set_flush_denormal(True) (FTZ/DAZ): on Intel CPUs MKL's sgemm
slows ~20x on the denormal entries of the cross-entropy gradient over a large vocabulary (the tied head's
two backward GEMMs), so bench_train.sh reports the newest PyTorch both ways."""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=-1)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        if hasattr(F, "scaled_dot_product_attention"):
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # torch 1.13: the manual eager form
            s = q @ k.transpose(-1, -2) / math.sqrt(C // self.h)
            s = s.masked_fill(torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
            a = torch.softmax(s, dim=-1) @ v
        x = x + self.proj(a.transpose(1, 2).reshape(B, T, C))
        return x + self.fc2(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, V, d, L, h, T):
        super().__init__()
        self.tok, self.pos = nn.Embedding(V, d), nn.Embedding(T, d)
        self.blocks = nn.ModuleList(Block(d, h) for _ in range(L))
        self.ln_f = nn.LayerNorm(d)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(T, device=idx.device))
        for b in self.blocks:
            x = b(x)
        logits = self.ln_f(x) @ self.tok.weight.T
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main():
    p = argparse.ArgumentParser()
    for name, default in (("vocab", 4096), ("d-model", 256), ("n-layers", 4), ("n-heads", 4), ("seq-len", 256),
                          ("batch-size", 8), ("steps", 6), ("warmup", 1), ("threads", 2)):
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"))
    p.add_argument("--flush-denormal", type=int, default=0, choices=(0, 1))
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    flushed = bool(a.flush_denormal) and torch.set_flush_denormal(True)
    dev = torch.device(a.device)
    model = GPT(a.vocab, a.d_model, a.n_layers, a.n_heads, a.seq_len).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    if a.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # weft's fp32 GEMMs do not use TF32 either
    times = []
    for step in range(a.warmup + a.steps):
        x = torch.randint(0, a.vocab, (a.batch_size, a.seq_len), device=dev)
        y = torch.randint(0, a.vocab, (a.batch_size, a.seq_len), device=dev)
        if a.device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast(a.device, dtype=torch.bfloat16, enabled=a.dtype == "bf16"):
            loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if a.device == "cuda":
            torch.cuda.synchronize()
        if step >= a.warmup:  # warm-up steps fill allocators' caches and pick kernels
            times.append(time.perf_counter() - t0)
    step_s = sum(times) / len(times)
    out = {"torch": torch.__version__, "device": a.device, "dtype": a.dtype,
           "flush_denormal": flushed, "tokens_per_s": a.batch_size * a.seq_len / step_s, "step_ms": step_s * 1e3,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "loss": loss.item()}
    if a.device == "cuda":
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(out))


if __name__ == "__main__":
    main()
