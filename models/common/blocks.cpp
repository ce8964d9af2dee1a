// Shared decoder sub-blocks (models/common/blocks.h), built from runtime ops.
#include "models/common/blocks.h"

#include <vector>

#include "runtime/check.h"

namespace weft::models {

LinearParams declare_linear(ParamStore& store, const std::string& prefix, int64_t out, int64_t in, Init w_init,
                            bool bias, bool decay_bias) {
  LinearParams l;
  l.w = store.add(prefix + ".weight", {out, in}, w_init);
  l.b = bias ? store.add(prefix + ".bias", {out}, Init::Zeros(), decay_bias) : -1;
  return l;
}

NormParams declare_norm(ParamStore& store, const std::string& prefix, int64_t C, bool bias, bool decay) {
  NormParams n;
  n.w = store.add(prefix + ".weight", {C}, Init::Ones(), decay);
  n.b = bias ? store.add(prefix + ".bias", {C}, Init::Zeros(), decay) : -1;
  return n;
}

Var linear(Graph& g, ParamStore& store, const LinearParams& l, Var x) {
  return ops::linear(g, x, g.param(store, l.w), l.b < 0 ? nullptr : g.param(store, l.b));
}

Var norm(Graph& g, ParamStore& store, NormKind kind, const NormParams& n, Var x, float eps) {
  if (kind == NormKind::rmsnorm) return ops::rmsnorm(g, x, g.param(store, n.w), eps);
  return ops::layernorm(g, x, g.param(store, n.w), n.b < 0 ? nullptr : g.param(store, n.b), eps);
}

Var causal_self_attention(Graph& g, ParamStore& store, const AttentionParams& p, Var h, int64_t n_heads,
                          const AttentionPositions& pos, AttentionQK* qk) {
  const Shape& s = h->value.shape;
  const int64_t B = s[0], T = s[1];
  Var qkv = linear(g, store, p.qkv, h);  // (B, T, 3A)
  const int64_t A = qkv->value.shape[2] / 3, HS = A / n_heads;
  WEFT_CHECK(3 * A == qkv->value.shape[2] && HS * n_heads == A, "[attention] q|k|v width ", qkv->value.shape[2],
             " is not 3 x ", n_heads, " heads");
  std::vector<Var> parts = ops::split(g, qkv, {A, A, A}, -1);
  Shape heads{B, T, n_heads, HS};
  Var q = ops::reshape(g, parts[0], heads), k = ops::reshape(g, parts[1], heads), v = ops::reshape(g, parts[2], heads);
  if (pos.rope_channels > 0) {
    q = ops::rope(g, q, pos.rope_channels, pos.rope_base);
    k = ops::rope(g, k, pos.rope_channels, pos.rope_base);
  }
  if (qk) *qk = AttentionQK{q, k};
  Var att = ops::attention(g, q, k, v, pos.bias);  // (B, T, NH, HS)
  return linear(g, store, p.proj, ops::reshape(g, att, {B, T, A}));
}

Var mlp(Graph& g, ParamStore& store, const MlpParams& p, Var h, Activation act) {
  Var fc_w = g.param(store, p.fc.w), fc_b = p.fc.b < 0 ? nullptr : g.param(store, p.fc.b);
  Var f;  // (B, T, F)
  if (act == Activation::gelu_tanh) f = ops::linear_gelu(g, h, fc_w, fc_b);  // GELU fused into the GEMM on CUDA
  else if (act == Activation::relu) f = ops::relu(g, ops::linear(g, h, fc_w, fc_b));
  else f = ops::swiglu(g, ops::linear(g, h, fc_w, fc_b));  // (B, T, 2F) -> (B, T, F)
  return linear(g, store, p.proj, f);
}

Var next_token_loss(Graph& g, Var logits, const Batch& batch) {
  const int64_t N = batch.inputs.numel(), V = logits->value.shape[-1];
  return ops::cross_entropy(g, ops::reshape(g, logits, {N, V}), g.constant(batch.targets.reshape({N})), -100,
                            batch.normalizer);
}

}  // namespace weft::models
