// cuDNN's fused scaled-dot-product attention (flash-attention style, cuDNN 9 graph API through the header-only
// cudnn-frontend) behind our attention kernel contract. One graph per shape and mask, built on the first call and
// cached in the Exec (its cuDNN handle, graphs, workspace and scratch live in Exec::cudnn). What maps onto cuDNN:
//   q, out (B, Tq, NH, HS) and k, v (B, Tk, NH, HS) are cuDNN's (B, NH, S, HS) with strides (S*NH*HS, HS, NH*HS, 1);
//   lse (B, NH, Tq) is cuDNN's Stats (B, NH, Tq, 1) in f32, the natural-log log-sum-exp of each score row;
//   causal: the top-left diagonal when Tq == Tk, the bottom-right one (query i at key position i + Tk - Tq)
//   otherwise; a window W keeps keys with (i + Tk - Tq) - j < W (cuDNN's diagonal band, left bound W);
//   ALiBi: cuDNN's own alibi mask when its slopes equal ours bit for bit (checked once per slope buffer), else,
//   as Sandwich's table, an additive (NH, Tq, Tk) bf16 bias filled by attention_bias.cu (cuDNN's bias and alibi
//   inputs need Tq == Tk with a causal mask; other cases stay with our kernels).
// bf16 only (cuDNN's attention takes fp16/bf16); the backward is cuDNN's deterministic algorithm, so a resumed
// run repeats its gradients bit for bit. cuDNN overwrites dq, dk, dv; our contract adds, so the backward writes
// into scratch and adds (axpby).
#include "runtime/backend_cuda/cudnn_ops.h"

#include "runtime/check.h"
#include "runtime/cudnn_info.h"
#include "runtime/kernels.h"

#ifdef WEFT_HAVE_CUDNN_FRONTEND

#include <cstring>
#include <vector>

#include "runtime/backend_cuda/cudnn_graphs.h"

namespace weft::cuda {

bool cudnn_attention_built() { return true; }
std::vector<float> cudnn_alibi_slopes(int64_t n_heads) { return fe::detail::get_alibi_slope(n_heads); }

namespace {

// How the positional bias reaches cuDNN.
enum class BiasInput : uint8_t { none, alibi_mask, tensor };

// Tensor uids of the variant pack.
enum Uid : int64_t { kQ = 1, kK, kV, kO, kStats, kBias, kDO, kDQ, kDK, kDV };

struct AttentionCall {
  int64_t B, Tq, Tk, NH, HS, window;
  float scale;
  bool causal, backward;
  BiasInput bias;
  std::string key() const {  // the scale by its bits: two scales never share a graph
    uint32_t scale_bits;
    std::memcpy(&scale_bits, &scale, sizeof scale_bits);
    return detail::concat("attention ", backward ? "bwd" : "fwd", " B", B, " Tq", Tq, " Tk", Tk, " NH", NH, " HS", HS,
                          " window", window, " scale", scale_bits, causal ? " causal" : " full", " bias", int(bias));
  }
};

// Whether the ALiBi slopes in `slopes` (NH floats on the device) are cuDNN's: cuDNN computes its own
// (cudnn_frontend's get_alibi_slope) and takes no slope input, so its mask is used only when they are equal.
// Checked once per slope buffer (a model's constant) with a copy to the host.
bool alibi_matches_cudnn(Exec& ex, CudnnState& st, const float* slopes, int64_t NH) {
  auto it = st.alibi_matches.find(slopes);
  if (it != st.alibi_matches.end()) return it->second;
  std::vector<float> ours(static_cast<size_t>(NH));
  WEFT_CUDNN_CUDA_OK(cudaMemcpyAsync(ours.data(), slopes, ours.size() * sizeof(float), cudaMemcpyDeviceToHost,
                                     static_cast<cudaStream_t>(ex.stream)));
  WEFT_CUDNN_CUDA_OK(cudaStreamSynchronize(static_cast<cudaStream_t>(ex.stream)));
  const std::vector<float> theirs = cudnn_alibi_slopes(NH);
  const bool same = theirs.size() == ours.size() && std::memcmp(theirs.data(), ours.data(), ours.size() * 4) == 0;
  st.alibi_matches.emplace(slopes, same);
  return same;
}

// The case as cuDNN sees it, or an empty reason when cuDNN can run it.
std::string unsupported_reason(DType dt, int64_t Tq, int64_t Tk, int64_t HS, const PositionBias& bias, bool causal) {
  if (dt != DType::bf16) return "cuDNN's attention takes bf16 (got " + std::string(dtype_name(dt)) + ")";
  if (HS % 8 != 0 || HS > 256) return "head size " + std::to_string(HS) + " (cuDNN: a multiple of 8, at most 256)";
  if (bias.kind != PositionBias::Kind::none && !(causal && Tq == Tk))
    return "a positional bias needs the causal mask with as many queries as keys (cuDNN's bias and alibi inputs "
           "do not take the bottom-right diagonal)";
  return "";
}

template <class Attributes>
void set_mask(Attributes& a, const AttentionCall& key) {
  if (key.causal) {
    if (key.Tq == key.Tk) a.set_causal_mask(true);
    else a.set_causal_mask_bottom_right(true);
  }
  if (key.window > 0) a.set_diagonal_band_left_bound(static_cast<int>(key.window));
  if (key.bias == BiasInput::alibi_mask) a.set_alibi_mask(true);
}

std::shared_ptr<fe::graph::Tensor_attributes> bhsd(fe::graph::Graph& g, const char* name, Uid uid, int64_t B,
                                                   int64_t NH, int64_t S, int64_t HS) {
  return g.tensor(fe::graph::Tensor_attributes()
                      .set_name(name)
                      .set_uid(uid)
                      .set_dim({B, NH, S, HS})
                      .set_stride({S * NH * HS, HS, NH * HS, 1}));
}

void mark_output(const std::shared_ptr<fe::graph::Tensor_attributes>& t, Uid uid, int64_t B, int64_t NH, int64_t S,
                 int64_t HS) {
  t->set_output(true).set_uid(uid).set_dim({B, NH, S, HS}).set_stride({S * NH * HS, HS, NH * HS, 1});
}

// Declares the forward or backward graph of a call (cached_graph builds it).
std::shared_ptr<fe::graph::Graph> make_graph(const AttentionCall& key) {
  auto g = std::make_shared<fe::graph::Graph>();
  g->set_io_data_type(fe::DataType_t::BFLOAT16)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  const int64_t B = key.B, Tq = key.Tq, Tk = key.Tk, NH = key.NH, HS = key.HS;
  auto Q = bhsd(*g, "q", kQ, B, NH, Tq, HS), K = bhsd(*g, "k", kK, B, NH, Tk, HS), V = bhsd(*g, "v", kV, B, NH, Tk, HS);
  std::shared_ptr<fe::graph::Tensor_attributes> bias;
  if (key.bias == BiasInput::tensor)  // (1, NH, Tq, Tk), shared by the batch
    bias = g->tensor(fe::graph::Tensor_attributes()
                         .set_name("bias")
                         .set_uid(kBias)
                         .set_dim({1, NH, Tq, Tk})
                         .set_stride({NH * Tq * Tk, Tq * Tk, Tk, 1}));
  auto as_lse = [&](fe::graph::Tensor_attributes& t) {  // (B, NH, Tq, 1) f32: our lse (B, NH, Tq)
    t.set_uid(kStats).set_dim({B, NH, Tq, 1}).set_stride({NH * Tq, Tq, 1, 1}).set_data_type(fe::DataType_t::FLOAT);
  };
  if (!key.backward) {
    auto attrs = fe::graph::SDPA_attributes().set_name("weft_attention").set_generate_stats(true).set_attn_scale(key.scale);
    set_mask(attrs, key);
    if (bias) attrs.set_bias(bias);
    auto [O, stats] = g->sdpa(Q, K, V, attrs);
    mark_output(O, kO, B, NH, Tq, HS);
    stats->set_output(true);
    as_lse(*stats);
  } else {
    auto O = bhsd(*g, "out", kO, B, NH, Tq, HS), dO = bhsd(*g, "dout", kDO, B, NH, Tq, HS);
    fe::graph::Tensor_attributes lse_attrs;
    lse_attrs.set_name("lse");
    as_lse(lse_attrs);
    auto stats = g->tensor(lse_attrs);
    auto attrs = fe::graph::SDPA_backward_attributes()
                     .set_name("weft_attention_backward")
                     .set_attn_scale(key.scale)
                     .set_deterministic_algorithm(true);
    set_mask(attrs, key);
    if (bias) attrs.set_bias(bias);
    auto [dQ, dK, dV] = g->sdpa_backward(Q, K, V, O, dO, stats, attrs);
    mark_output(dQ, kDQ, B, NH, Tq, HS);
    mark_output(dK, kDK, B, NH, Tk, HS);
    mark_output(dV, kDV, B, NH, Tk, HS);
  }
  return g;
}

// The cached graph of this call, or null when cuDNN does not run it (`auto`: our kernels do; `cudnn`: an error).
const CachedGraph* graph_for(Exec& ex, DType dt, int64_t B, int64_t Tq, int64_t Tk, int64_t NH, int64_t HS,
                             float scale, const PositionBias& bias, bool causal, bool backward) {
  if (ex.attention == KernelBackend::weft) return nullptr;
  const bool required = ex.attention == KernelBackend::cudnn;
  const std::string reason = unsupported_reason(dt, Tq, Tk, HS, bias, causal);
  if (!reason.empty()) {
    if (required) WEFT_FAIL("[attention] --attention-backend cudnn: cuDNN cannot run this call: ", reason);
    return nullptr;
  }
  CudnnState& st = cudnn_state(ex);
  const BiasInput input = bias.kind == PositionBias::Kind::none ? BiasInput::none
                          : bias.kind == PositionBias::Kind::alibi && alibi_matches_cudnn(ex, st, bias.slopes, NH)
                              ? BiasInput::alibi_mask
                              : BiasInput::tensor;
  const AttentionCall call{B, Tq, Tk, NH, HS, bias.window, scale, causal, backward, input};
  const CachedGraph& g = cached_graph(st, call.key(), [&] { return make_graph(call); });
  if (!g.graph) {
    if (required)
      WEFT_FAIL("[attention] --attention-backend cudnn: cuDNN has no engine for (B ", B, ", Tq ", Tq, ", Tk ", Tk,
                ", NH ", NH, ", HS ", HS, backward ? ", backward" : ", forward", "): ", g.reason);
    return nullptr;
  }
  return &g;
}

// Fills the bias input when the graph takes one; returns its device pointer (or null).
void* bias_input(Exec& ex, const PositionBias& bias, int64_t NH, int64_t Tq, int64_t Tk, bool fused_alibi) {
  if (bias.kind == PositionBias::Kind::none || fused_alibi) return nullptr;
  void* p = cudnn_state(ex).bias.at_least(static_cast<size_t>(NH * Tq * Tk) * 2);
  fill_attention_bias(ex, p, bias, NH, Tq, Tk);
  return p;
}

}  // namespace

bool cudnn_attention_forward(Exec& ex, DType dt, void* out, void* lse, const void* q, const void* k, const void* v,
                             int64_t B, int64_t Tq, int64_t Tk, int64_t NH, int64_t HS, float scale,
                             const PositionBias& bias, bool causal) {
  const CachedGraph* g = graph_for(ex, dt, B, Tq, Tk, NH, HS, scale, bias, causal, false);
  if (!g) return false;
  const bool fused_alibi = bias.kind == PositionBias::Kind::alibi && cudnn_state(ex).alibi_matches.at(bias.slopes);
  std::unordered_map<int64_t, void*> pack{
      {kQ, const_cast<void*>(q)}, {kK, const_cast<void*>(k)}, {kV, const_cast<void*>(v)}, {kO, out}, {kStats, lse}};
  if (void* b = bias_input(ex, bias, NH, Tq, Tk, fused_alibi)) pack[kBias] = b;
  execute_graph(ex, *g, pack, "attention_forward");
  return true;
}

bool cudnn_attention_backward(Exec& ex, DType dt, void* dq, void* dk, void* dv, const void* dout, const void* out,
                              const void* lse, const void* q, const void* k, const void* v, int64_t B, int64_t Tq,
                              int64_t Tk, int64_t NH, int64_t HS, float scale, const PositionBias& bias,
                              bool causal) {
  const CachedGraph* g = graph_for(ex, dt, B, Tq, Tk, NH, HS, scale, bias, causal, true);
  if (!g) return false;
  CudnnState& st = cudnn_state(ex);
  const bool fused_alibi = bias.kind == PositionBias::Kind::alibi && st.alibi_matches.at(bias.slopes);
  const int64_t nq = B * Tq * NH * HS, nk = B * Tk * NH * HS;
  auto* scratch = static_cast<char*>(st.grads.at_least(static_cast<size_t>(nq + 2 * nk) * 2));
  void *sq = scratch, *sk = scratch + nq * 2, *sv = scratch + (nq + nk) * 2;
  std::unordered_map<int64_t, void*> pack{
      {kQ, const_cast<void*>(q)},     {kK, const_cast<void*>(k)},   {kV, const_cast<void*>(v)},
      {kO, const_cast<void*>(out)},   {kDO, const_cast<void*>(dout)}, {kStats, const_cast<void*>(lse)},
      {kDQ, sq},                      {kDK, sk},                    {kDV, sv}};
  if (void* b = bias_input(ex, bias, NH, Tq, Tk, fused_alibi)) pack[kBias] = b;
  execute_graph(ex, *g, pack, "attention_backward");
  if (dq) axpby(ex, dt, dq, 1.0f, sq, 1.0f, nq);
  if (dk) axpby(ex, dt, dk, 1.0f, sk, 1.0f, nk);
  if (dv) axpby(ex, dt, dv, 1.0f, sv, 1.0f, nk);
  return true;
}

}  // namespace weft::cuda

#else  // no cuDNN frontend in this build: every call stays with our kernels

namespace weft::cuda {

bool cudnn_attention_built() { return false; }
std::vector<float> cudnn_alibi_slopes(int64_t) { return {}; }

static bool cudnn_required(const Exec& ex) {
  if (ex.attention == KernelBackend::cudnn)
    WEFT_FAIL("[attention] --attention-backend cudnn: this weft was built without cuDNN's frontend "
              "(tools/install-cudnn-frontend.sh, then reconfigure the CUDA build)");
  return false;
}

bool cudnn_attention_forward(Exec& ex, DType, void*, void*, const void*, const void*, const void*, int64_t, int64_t,
                             int64_t, int64_t, int64_t, float, const PositionBias&, bool) {
  return cudnn_required(ex);
}
bool cudnn_attention_backward(Exec& ex, DType, void*, void*, void*, const void*, const void*, const void*,
                              const void*, const void*, const void*, int64_t, int64_t, int64_t, int64_t, int64_t,
                              float, const PositionBias&, bool) {
  return cudnn_required(ex);
}

}  // namespace weft::cuda

#endif
