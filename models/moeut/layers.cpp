// MoEUT's sub-layers (models/moeut/moeut.h): SwitchHead attention (spec A.2), the sigma-MoE feed-forward
// (A.1) with its expert dispatch (local or across the expert-parallel group), and the entropy regulariser
// (A.5). Expert choices are made on the device by ops::topk; the dispatch reads them on the host once per
// module application (row bookkeeping and all-to-all counts need them there).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "models/common/expert_exchange.h"
#include "models/moeut/moeut.h"
#include "runtime/check.h"

namespace weft::models {

namespace {

std::vector<int32_t> to_host_i32(const Tensor& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  if (!v.empty()) device_copy(Device::cpu, v.data(), t.device, t.data, v.size() * sizeof(int32_t));
  return v;
}

Tensor upload_i32(Graph& g, const std::vector<int32_t>& v) {
  Tensor t = g.alloc(DType::i32, {static_cast<int64_t>(v.size())});
  if (!v.empty()) device_copy(t.device, t.data, Device::cpu, v.data(), v.size() * sizeof(int32_t));
  return t;
}

// Per-choice experts: choice i = m * K + k reads row rows[i] of x (R, C) through w[expert[i]] (w (E, C, O));
// the results (M K, O) are gated by gates (M, K) and summed over k -> (M, O).
Var gated_expert_sum(Graph& g, Var x, Var w, const std::vector<int32_t>& rows, const std::vector<int32_t>& expert,
                     Var gates, int64_t M, int64_t K) {
  const int64_t O = w->value.shape[2], E = w->value.shape[0];
  Var picked = ops::gather_rows(g, x, g.constant(upload_i32(g, rows)));                           // (M K, C)
  Var y = ops::grouped_matmul(g, picked, w, ops::route_by_expert(g, upload_i32(g, expert), E));  // (M K, O)
  Var gated = ops::mul(g, ops::reshape(g, y, {M, K, O}), ops::reshape(g, gates, {M, K, 1}));
  return ops::sum(g, gated, 1);  // (M, O)
}

// A one-element constant of dtype dt.
Var scalar(Graph& g, DType dt, double value) {
  Tensor t = g.alloc(dt, {1});
  const float f = static_cast<float>(value);
  if (dt == DType::f64)
    device_copy(t.device, t.data, Device::cpu, &value, sizeof(double));
  else
    device_copy(t.device, t.data, Device::cpu, &f, sizeof(float));
  return g.constant(t);
}

// Top-k of sigmoid(z) per row of z (M, N): raw sigmoid gates (M, K) and expert ids (host, M * K).
struct Choice {
  Var gates = nullptr;
  std::vector<int32_t> ids;
};
Choice choose(Graph& g, Var z, int64_t M, int64_t N, int64_t K) {
  ops::TopK tk = ops::topk(g, ops::sigmoid(g, ops::reshape(g, z, {M, N})), K);
  return Choice{tk.values, to_host_i32(tk.indices->value)};
}

// Negative entropy of the pooled selection distribution (A.5), averaged over the first two axes of
// z (B, S, P, N) (S pooled positions: time x repeats; P groups: heads, or 1): with log p = log_softmax(z),
// log pbar[b, p, :] = logsumexp_s(log p[b, s, p, :]) - log S; result mean_{b, p} sum_e pbar log pbar.
Var negative_entropy(Graph& g, Var z, int64_t B, int64_t S, int64_t P, int64_t N) {
  if (z->value.dtype != DType::f32 && z->value.dtype != DType::f64) z = ops::cast(g, z, DType::f32);  // fp32 (A.12.7)
  Var logp = ops::sub(g, z, ops::logsumexp(g, z));                                   // (B, S, P, N)
  Var by_s = ops::transpose12(g, ops::reshape(g, logp, {B, S, P * N, 1}));           // (B, P N, S, 1)
  Var pooled = ops::logsumexp(g, ops::reshape(g, by_s, {B, P * N, S}));               // (B, P N, 1)
  Var shift = scalar(g, z->value.dtype, -std::log(static_cast<double>(S)));
  Var log_pbar = ops::reshape(g, ops::add(g, pooled, shift), {B * P, N});
  Var negent = ops::sum(g, ops::mul(g, ops::unary(g, UnaryOp::exp, log_pbar), log_pbar), 1);  // (B P)
  return ops::scale(g, ops::sum_all(g, negent), static_cast<float>(1.0 / static_cast<double>(B * P)));  // (1)
}

}  // namespace

Var Moeut::attention(Graph& g, ParamStore& store, const Layer& l, Var x, Var x_hat, Selections& s) {
  const Shape& xs = x->value.shape;
  const int64_t B = xs[0], T = xs[1], d = cfg_.d_model, H = cfg_.n_heads, dh = cfg_.head_dim;
  const int64_t NA = cfg_.att_experts, KA = cfg_.att_top_k, N = B * T;
  const float qk_scale = static_cast<float>(std::pow(static_cast<double>(dh), -0.25));
  auto project = [&](int w) {  // (B, T, H, dh), scaled, rotated
    Var p = ops::reshape(g, ops::scale(g, ops::linear(g, x_hat, g.param(store, w)), qk_scale), {B, T, H, dh});
    return cfg_.rope_channels() > 0 ? ops::rope(g, p, cfg_.rope_channels()) : p;
  };
  Var q = project(l.q), k = project(l.k);
  Var v_src = ops::reshape(g, cfg_.peri ? x : x_hat, {N, d});  // the raw residual in peri-LN (A.4)
  Var v = nullptr;
  if (NA > 1) {
    s.att_v = ops::reshape(g, ops::linear(g, x_hat, g.param(store, l.sel_v)), {B, T, H, NA});
    Choice cv = choose(g, s.att_v, N * H, NA, KA);
    // Row (n, h) of the value: sum_k gV x[n] W_V[h N_A + e_k]; choice i = (n H + h) K_A + k.
    std::vector<int32_t> src(cv.ids.size());
    for (size_t i = 0; i < cv.ids.size(); ++i) {
      src[i] = static_cast<int32_t>(i / (KA * H));
      cv.ids[i] += static_cast<int32_t>((i / KA) % H * NA);  // head h's experts
    }
    v = gated_expert_sum(g, v_src, g.param(store, l.v), src, cv.ids, cv.gates, N * H, KA);  // (N H, dh)
  } else {
    v = ops::linear(g, v_src, g.param(store, l.v));  // (N, H dh)
  }
  Var att = ops::attention(g, q, k, ops::reshape(g, v, {B, T, H, dh}), {}, 1.0f, true);  // (B, T, H, dh)
  if (NA > 1) {
    s.att_o = ops::reshape(g, ops::linear(g, x_hat, g.param(store, l.sel_o)), {B, T, H, NA});
    Choice co = choose(g, s.att_o, N * H, NA, KA);
    std::vector<int32_t> src(co.ids.size());
    for (size_t i = 0; i < co.ids.size(); ++i) {
      src[i] = static_cast<int32_t>(i / KA);
      co.ids[i] += static_cast<int32_t>((i / KA) % H * NA);
    }
    // y[n] = sum_h sum_k gO R[n, h] W_O[h N_A + e_k]: per (n, h) rows, then the heads summed.
    Var per_row = gated_expert_sum(g, ops::reshape(g, att, {N * H, dh}), g.param(store, l.o), src, co.ids, co.gates,
                                   N * H, KA);
    return ops::reshape(g, ops::sum(g, ops::reshape(g, per_row, {N, H, d}), 1), {B, T, d});
  }
  Var gate = ops::sigmoid(g, ops::linear(g, x_hat, g.param(store, l.sel_o)));  // (B, T, H)
  Var gated = ops::mul(g, att, ops::reshape(g, gate, {B, T, H, 1}));
  return ops::linear(g, ops::reshape(g, gated, {B, T, H * dh}), g.param(store, l.o));
}

Var Moeut::sigma_moe(Graph& g, ParamStore& store, const Layer& l, Var x, Var sel_in, Selections& s) {
  const Shape& xs = x->value.shape;
  const int64_t B = xs[0], T = xs[1], d = cfg_.d_model, K = cfg_.top_k, N = B * T;
  s.ffn = ops::linear(g, sel_in, g.param(store, l.expert_sel));  // (B, T, N_E) raw logits
  ops::TopK tk = ops::topk(g, ops::sigmoid(g, ops::reshape(g, s.ffn, {N, cfg_.n_experts})), K);
  Var pairs = apply_experts(g, store, l, ops::reshape(g, x, {N, d}), tk.indices->value);  // (N K, d)
  Var gated = ops::mul(g, ops::reshape(g, pairs, {N, K, d}), ops::reshape(g, tk.values, {N, K, 1}));
  return ops::reshape(g, ops::sum(g, gated, 1), {B, T, d});
}

Var Moeut::apply_experts(Graph& g, ParamStore& store, const Layer& l, Var x, const Tensor& idx) {
  const int64_t N = x->value.shape[0], K = idx.shape[idx.shape.rank - 1], P = N * K;
  const std::vector<int32_t> expert = to_host_i32(idx);
  ExpertExchange* ex = parallel().experts;
  const int E = parallel().expert_world();
  // Pairs (n, k) sorted by expert (stable), hence grouped by the rank owning the expert.
  std::vector<int32_t> sorted(P);
  std::iota(sorted.begin(), sorted.end(), 0);
  std::stable_sort(sorted.begin(), sorted.end(), [&](int32_t a, int32_t b) { return expert[a] < expert[b]; });
  std::vector<int64_t> send_rows(E, 0);
  std::vector<int32_t> row_of(P), local_id(P), position(P);
  for (int64_t i = 0; i < P; ++i) {
    const int32_t e = expert[sorted[i]];
    WEFT_CHECK(e >= 0 && e < cfg_.n_experts, "[moeut] expert id ", e, " out of range");
    const int owner = static_cast<int>(e / local_experts_);
    ++send_rows[owner];
    row_of[i] = static_cast<int32_t>(sorted[i] / K);
    local_id[i] = static_cast<int32_t>(e - owner * local_experts_);
    position[sorted[i]] = static_cast<int32_t>(i);
  }
  Var send = ops::gather_rows(g, x, g.constant(upload_i32(g, row_of)));  // (P, d) in expert order
  const std::vector<int64_t> recv_rows = exchange_counts(g, ex, send_rows);
  Var recv = exchange_rows(g, send, ex, send_rows, recv_rows);  // (Q, d): rows for this rank's experts
  const Tensor ids = exchange_values(g, upload_i32(g, local_id), ex, send_rows, recv_rows);  // (Q) i32
  const ops::ExpertRoute route = ops::route_by_expert(g, ids, local_experts_);
  Var h = ops::relu(g, ops::grouped_matmul(g, recv, g.param(store, l.keys), route));  // (Q, es)
  Var out = ops::grouped_matmul(g, h, g.param(store, l.values), route);              // (Q, d)
  Var back = exchange_rows(g, out, ex, recv_rows, send_rows);                         // (P, d) in expert order
  return ops::gather_rows(g, back, g.constant(upload_i32(g, position)));              // (P, d) in (n, k) order
}

Var Moeut::regulariser(Graph& g, const std::vector<std::vector<Selections>>& sel) const {
  Var reg = nullptr;  // the sum of the weighted terms so far
  auto add = [&](Var term, double weight) {
    Var w = ops::scale(g, term, static_cast<float>(weight));
    reg = reg ? ops::add(g, reg, w) : w;
  };
  for (const std::vector<Selections>& uses : sel) {
    if (uses.empty()) continue;
    const Shape& zs = uses[0].ffn->value.shape;
    const int64_t B = zs[0], T = zs[1], R = static_cast<int64_t>(uses.size());
    auto pooled = [&](auto member, int64_t P, int64_t n) {  // (B, T R, P, n): the repeats along time
      std::vector<Var> parts;
      for (const Selections& s : uses) parts.push_back(ops::reshape(g, s.*member, {B, T, P, n}));
      return negative_entropy(g, R > 1 ? ops::concat(g, parts, 1) : parts[0], B, T * R, P, n);
    };
    add(pooled(&Selections::ffn, 1, cfg_.n_experts), cfg_.entropy_reg);
    if (cfg_.att_experts > 1) {
      add(pooled(&Selections::att_v, cfg_.n_heads, cfg_.att_experts), cfg_.att_entropy_reg);
      add(pooled(&Selections::att_o, cfg_.n_heads, cfg_.att_experts), cfg_.att_entropy_reg);
    }
  }
  return reg;
}

}  // namespace weft::models
