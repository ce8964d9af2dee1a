// Differentiable ops: the API models are written in.
// Each op checks shapes once (errors name the op), computes its forward result now on the device of
// its inputs, and records its backward on the Graph. Shape letters: N rows, C channels, B batch,
// T time, NH heads, HS head size, V vocabulary, K top-k. A float Var's dtype is f32 or f64 on CPU
// (f64 for gradient checks), f32 or bf16 on CUDA. Index tensors (ids, targets, idx) are i32 constants.
#pragma once

#include <vector>

#include "runtime/graph.h"
#include "runtime/math/pointwise.h"
#include "runtime/math/position_bias.h"
#include "runtime/rng.h"

namespace weft::ops {

// ---- matmul family (ops/matmul.cpp)
// a (..., M, K) @ b (K, N) or (..., K, N) -> (..., M, N); ta / tb: use a / b transposed (their last two
// dims swapped). A 2-D b is shared by every batch.
Var matmul(Graph& g, Var a, Var b, bool ta = false, bool tb = false);
// x (..., C) @ w (OC, C)^T + bias (OC) -> (..., OC); bias may be null.
Var linear(Graph& g, Var x, Var w, Var bias = nullptr);
// gelu_tanh(linear(x, w, bias)) in one op (an MLP up-projection): the backend may fuse the GELU into the
// GEMM; the pre-activation is kept for the backward. Equals ops::gelu_tanh(g, ops::linear(...)) on the CPU.
Var linear_gelu(Graph& g, Var x, Var w, Var bias = nullptr);

// ---- pointwise (ops/pointwise.cpp)
Var unary(Graph& g, UnaryOp op, Var x);
inline Var relu(Graph& g, Var x) { return unary(g, UnaryOp::relu, x); }
inline Var gelu_tanh(Graph& g, Var x) { return unary(g, UnaryOp::gelu_tanh, x); }
inline Var gelu_erf(Graph& g, Var x) { return unary(g, UnaryOp::gelu_erf, x); }
inline Var silu(Graph& g, Var x) { return unary(g, UnaryOp::silu, x); }
inline Var sigmoid(Graph& g, Var x) { return unary(g, UnaryOp::sigmoid, x); }
inline Var softplus(Graph& g, Var x) { return unary(g, UnaryOp::softplus, x); }
// Elementwise with numpy broadcasting: (N, C) + (C), (N, C) * (N, 1), ...
Var binary(Graph& g, BinaryOp op, Var a, Var b);
inline Var add(Graph& g, Var a, Var b) { return binary(g, BinaryOp::add, a, b); }
inline Var sub(Graph& g, Var a, Var b) { return binary(g, BinaryOp::sub, a, b); }
inline Var mul(Graph& g, Var a, Var b) { return binary(g, BinaryOp::mul, a, b); }
Var scale(Graph& g, Var x, float alpha);
// x (..., 2F) -> silu(x[..., :F]) * x[..., F:]  (..., F)
Var swiglu(Graph& g, Var x);
// Inverted dropout with a Philox mask; identity when p == 0 or !training. Draws counters from rng.
Var dropout(Graph& g, Var x, float p, Rng& rng, bool training = true);
Var cast(Graph& g, Var x, DType dt);

// ---- normalisation (ops/norm.cpp): over the last dim; weight/bias (C) may be null.
Var layernorm(Graph& g, Var x, Var weight, Var bias, float eps = 1e-5f);
Var rmsnorm(Graph& g, Var x, Var weight, float eps = 1e-6f);
Var softmax(Graph& g, Var x);  // over the last dim
// log sum exp over the last dim, kept as a dim of 1: x (..., C) -> (..., 1), stable for any logits (max
// subtracted inside), so x - logsumexp(x) is a log-softmax that never takes log(0). f32 or f64 only.
Var logsumexp(Graph& g, Var x);

// ---- attention (ops/attention.cpp): q (B, Tq, NH, HS), k, v (B, Tk, NH, HS) with Tk >= Tq -> (B, Tq, NH, HS).
// Query i sits at key position i + Tk - Tq: causal, it sees keys j <= i + Tk - Tq (the first Tk - Tq keys are a
// memory, Transformer-XL); the bias gets (h, i + Tk - Tq, j). Tk == Tq is plain self-attention.
// scale <= 0 means 1/sqrt(HS). The bias is evaluated inside the kernel (no Tq x Tk tensor); a table bias must
// cover Tk distances. bias.window = W > 0 (causal only) also hides keys with i + Tk - Tq - j >= W.
Var attention(Graph& g, Var q, Var k, Var v, const PositionBias& bias = {}, float scale = 0.0f,
              bool causal = true);

// Rotary embedding (ops/rope.cpp) of x (B, T, NH, HS) on the first n_rot channels of each head (even,
// <= HS), positions t + pos_offset.
Var rope(Graph& g, Var x, int64_t n_rot, float base = 10000.0f, int64_t pos_offset = 0);

// ---- losses (ops/xent.cpp): mean cross-entropy of logits (N, V) against targets (N); rows whose target
// is ignore_index do not count. normalizer > 0 divides the summed loss by it instead of by the number
// of counted rows (data parallel passes the global token count). Returns a one-element Var.
Var cross_entropy(Graph& g, Var logits, Var targets, int32_t ignore_index = -100, float normalizer = 0.0f);
// Per-row losses (N) of logits (N, V) for evaluation (no gradient): f32 (f64 for f64 logits), 0 where the
// target is ignore_index. Summing them in fp64 on the host makes a mean that does not depend on batching.
Tensor token_losses(Graph& g, Var logits, Var targets, int32_t ignore_index = -100);

// ---- indexing (ops/index.cpp)
Var embedding(Graph& g, Var ids, Var table);            // ids (...) , table (V, C) -> (..., C)
Var gather_rows(Graph& g, Var x, Var idx);              // x (N, C), idx (M) -> (M, C)
Var scatter_add_rows(Graph& g, Var src, Var idx, int64_t n_rows);  // src (M, C) -> (n_rows, C)
struct TopK {
  Var values;   // (..., K), differentiable
  Var indices;  // (..., K), i32 constant
};
TopK topk(Graph& g, Var x, int64_t k);

// ---- layout (ops/layout.cpp)
Var reshape(Graph& g, Var x, Shape shape);              // a view: shares memory and gradient
Var concat(Graph& g, const std::vector<Var>& xs, int axis);
std::vector<Var> split(Graph& g, Var x, const std::vector<int64_t>& sizes, int axis);
Var transpose12(Graph& g, Var x);                       // (A, B, C, D) -> (A, C, B, D)

// ---- token mixing (ops/mix.cpp); causal, the masked mixer's replacement of attention: x (B, T, C), w (L, L)
// with T <= L, bias (L) or null -> (B, T, C), y[b, i, :] = bias[i] + sum_{j <= i} w[i, j] x[b, j, :], using the
// top-left T x T block of w. Only w's lower triangle is read and receives a gradient, so an upper triangle
// that starts at zero stays zero under AdamW.
Var causal_mix(Graph& g, Var x, Var w, Var bias = nullptr);
// The share of a dense T x T product's FLOPs that each of causal_mix's three products computes (it skips
// the upper triangle in blocks): for FLOPs-per-token counts.
double causal_mix_share(int64_t T);
// Bidirectional (unmasked) token mixing over T slots, the retrieval model's mixer (spec A.10): x (B, T, C),
// w (T, T) full, bias (T) or null -> (B, T, C), y[b, i, :] = bias[i] + sum_j w[i, j] x[b, j, :]. Every entry of w
// is read and receives a gradient.
Var dense_mix(Graph& g, Var x, Var w, Var bias = nullptr);

// ---- mixture of experts (ops/moe.cpp)
// Rows grouped by expert: a stable counting sort of the expert id of every row.
struct ExpertRoute {
  Tensor order;                  // (M) i32 on the ids' device: row ids sorted by expert, stable (ascending row id
                                 // within an expert)
  std::vector<int64_t> offsets;  // (n_experts + 1) host: rows of expert e are order[offsets[e] .. offsets[e+1])
  int64_t n_experts = 0;
};
// The error of an id out of [0, n_experts) names the id and its row. On CUDA it synchronizes the stream once.
ExpertRoute route_by_expert(Graph& g, const Tensor& expert /* (M) i32 */, int64_t n_experts);
// x (M, C), w (E, C, O) -> (M, O): y[m] = x[m] @ w[expert of m] (w[e] is a C x O matrix, row-major).
Var grouped_matmul(Graph& g, Var x, Var w, const ExpertRoute& route);

// ---- reductions (ops/reduce.cpp)
Var sum(Graph& g, Var x, int axis, bool keepdim = false);
Var mean(Graph& g, Var x, int axis, bool keepdim = false);
Var sum_all(Graph& g, Var x);                           // -> (1)

// ---- linear algebra (ops/solve.cpp): X = A^-1 B for symmetric positive definite A (n, n), B (n, m).
// Only A's lower triangle is read, so A's gradient is reported on the lower triangle.
Var spd_solve(Graph& g, Var A, Var B);

}  // namespace weft::ops
