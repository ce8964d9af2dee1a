// cuDNN's LayerNorm and RMSNorm (graph API through cudnn-frontend) behind our norm kernel contracts, chosen by
// --norm-backend (Exec::norm): `cudnn` runs every call cuDNN supports on cuDNN (others are an error); `auto` and
// `weft` run ours, until a GPU measurement shows cuDNN's faster (docs/gpu-validation.md). The mapping:
//   x, out (N, C) are cuDNN's (N, C, 1, 1) with strides (C, 1, C, C); weight, bias (C) its scale and bias
//   (1, C, 1, 1); mean, rstd (N) f32 its saved mean and inv_variance (= 1 / sqrt(var + eps), our rstd).
//   Training-phase forward (it saves the statistics), the backward from the saved statistics.
// cuDNN needs a weight (and a bias for LayerNorm): calls without them stay with ours. Its backward writes dx,
// dweight, dbias; our contract adds (micro-batches accumulate into the same gradients), so they go to scratch and
// axpby adds them. f32 and bf16 (weight in the tensor's dtype, as our models store it).
#include "runtime/backend_cuda/cudnn_ops.h"

#include "runtime/check.h"
#include "runtime/kernels.h"

#ifdef WEFT_HAVE_CUDNN_FRONTEND

#include "runtime/backend_cuda/cudnn_graphs.h"

namespace weft::cuda {
namespace {

enum Uid : int64_t { kX = 1, kScale, kBias, kEps, kY, kMean, kRstd, kDY, kDX, kDScale, kDBias };

enum class Norm : uint8_t { layer, rms };

struct NormCall {
  Norm norm;
  bool backward;
  DType dt;
  int64_t N, C;
  std::string key() const {
    return detail::concat(norm == Norm::layer ? "layernorm " : "rmsnorm ", backward ? "bwd " : "fwd ",
                          dtype_name(dt), " N", N, " C", C);
  }
};

fe::DataType_t fe_type(DType dt) { return dt == DType::bf16 ? fe::DataType_t::BFLOAT16 : fe::DataType_t::FLOAT; }

std::shared_ptr<fe::graph::Tensor_attributes> rows(fe::graph::Graph& g, const char* name, Uid uid, int64_t N,
                                                   int64_t C, DType dt) {  // (N, C) as (N, C, 1, 1)
  return g.tensor(fe::graph::Tensor_attributes().set_name(name).set_uid(uid).set_dim({N, C, 1, 1})
                      .set_stride({C, 1, C, C}).set_data_type(fe_type(dt)));
}
std::shared_ptr<fe::graph::Tensor_attributes> channels(fe::graph::Graph& g, const char* name, Uid uid, int64_t C,
                                                       DType dt) {  // (C) as (1, C, 1, 1)
  return g.tensor(fe::graph::Tensor_attributes().set_name(name).set_uid(uid).set_dim({1, C, 1, 1})
                      .set_stride({C, 1, C, C}).set_data_type(fe_type(dt)));
}
void as_stats(const std::shared_ptr<fe::graph::Tensor_attributes>& t, Uid uid, int64_t N) {  // (N) f32
  t->set_uid(uid).set_dim({N, 1, 1, 1}).set_stride({1, 1, 1, 1}).set_data_type(fe::DataType_t::FLOAT);
}
void as_output(const std::shared_ptr<fe::graph::Tensor_attributes>& t, Uid uid, std::vector<int64_t> dim,
               std::vector<int64_t> stride, DType dt) {
  t->set_output(true).set_uid(uid).set_dim(dim).set_stride(stride).set_data_type(fe_type(dt));
}

std::shared_ptr<fe::graph::Graph> make_graph(const NormCall& c) {
  auto g = std::make_shared<fe::graph::Graph>();
  g->set_intermediate_data_type(fe::DataType_t::FLOAT).set_compute_data_type(fe::DataType_t::FLOAT);
  const int64_t N = c.N, C = c.C;
  auto X = rows(*g, "x", kX, N, C, c.dt);
  auto scale = channels(*g, "weight", kScale, C, c.dt);
  if (!c.backward) {
    auto eps = g->tensor(fe::graph::Tensor_attributes().set_name("eps").set_uid(kEps).set_dim({1, 1, 1, 1})
                             .set_stride({1, 1, 1, 1}).set_data_type(fe::DataType_t::FLOAT).set_is_pass_by_value(true));
    if (c.norm == Norm::layer) {
      auto bias = channels(*g, "bias", kBias, C, c.dt);
      auto attrs = fe::graph::Layernorm_attributes().set_forward_phase(fe::NormFwdPhase_t::TRAINING).set_epsilon(eps);
      auto [Y, mean, rstd] = g->layernorm(X, scale, bias, attrs);
      as_output(Y, kY, {N, C, 1, 1}, {C, 1, C, C}, c.dt);
      mean->set_output(true);
      as_stats(mean, kMean, N);
      rstd->set_output(true);
      as_stats(rstd, kRstd, N);
    } else {
      auto attrs = fe::graph::Rmsnorm_attributes().set_forward_phase(fe::NormFwdPhase_t::TRAINING).set_epsilon(eps);
      auto [Y, rstd] = g->rmsnorm(X, scale, attrs);
      as_output(Y, kY, {N, C, 1, 1}, {C, 1, C, C}, c.dt);
      rstd->set_output(true);
      as_stats(rstd, kRstd, N);
    }
    return g;
  }
  auto dY = rows(*g, "dout", kDY, N, C, c.dt);
  auto rstd = g->tensor(fe::graph::Tensor_attributes().set_name("rstd"));
  as_stats(rstd, kRstd, N);
  if (c.norm == Norm::layer) {
    auto mean = g->tensor(fe::graph::Tensor_attributes().set_name("mean"));
    as_stats(mean, kMean, N);
    auto attrs = fe::graph::Layernorm_backward_attributes().set_saved_mean_and_inv_variance(mean, rstd);
    auto [dX, dscale, dbias] = g->layernorm_backward(dY, X, scale, attrs);
    as_output(dX, kDX, {N, C, 1, 1}, {C, 1, C, C}, c.dt);
    as_output(dscale, kDScale, {1, C, 1, 1}, {C, 1, C, C}, c.dt);
    as_output(dbias, kDBias, {1, C, 1, 1}, {C, 1, C, C}, c.dt);
  } else {
    auto attrs = fe::graph::Rmsnorm_backward_attributes().has_dbias(false);
    auto [dX, dscale, dbias] = g->rmsnorm_backward(dY, X, scale, rstd, attrs);
    as_output(dX, kDX, {N, C, 1, 1}, {C, 1, C, C}, c.dt);
    as_output(dscale, kDScale, {1, C, 1, 1}, {C, 1, C, C}, c.dt);
  }
  return g;
}

// The cached graph of this call, or null when it stays with our kernels.
const CachedGraph* graph_for(Exec& ex, const NormCall& c, bool has_params) {
  if (ex.norm != KernelBackend::cudnn) return nullptr;  // auto: ours until cuDNN's is measured faster
  if (c.dt != DType::f32 && c.dt != DType::bf16)
    WEFT_FAIL("[norm] --norm-backend cudnn: cuDNN's norms take f32 or bf16, got ", dtype_name(c.dt));
  if (!has_params)
    WEFT_FAIL("[norm] --norm-backend cudnn: cuDNN's ", c.norm == Norm::layer ? "LayerNorm needs a weight and a bias"
                                                                             : "RMSNorm needs a weight",
              " (this call has none)");
  const CachedGraph& g = cached_graph(cudnn_state(ex), c.key(), [&] { return make_graph(c); });
  if (!g.graph) WEFT_FAIL("[norm] --norm-backend cudnn: cuDNN has no engine for ", c.key(), ": ", g.reason);
  return &g;
}

// Adds cuDNN's overwritten gradients into ours: dx (N, C), dweight and dbias (C) from scratch.
void add_grads(Exec& ex, DType dt, void* scratch, int64_t N, int64_t C, void* dx, void* dweight, void* dbias) {
  const size_t el = dtype_size(dt);
  auto* s = static_cast<char*>(scratch);
  if (dx) axpby(ex, dt, dx, 1.0f, s, 1.0f, N * C);
  if (dweight) axpby(ex, dt, dweight, 1.0f, s + N * C * el, 1.0f, C);
  if (dbias) axpby(ex, dt, dbias, 1.0f, s + (N * C + C) * el, 1.0f, C);
}

}  // namespace

bool cudnn_layernorm_forward(Exec& ex, DType dt, void* out, void* mean, void* rstd, const void* x, const void* weight,
                             const void* bias, int64_t N, int64_t C, float eps) {
  const CachedGraph* g = graph_for(ex, NormCall{Norm::layer, false, dt, N, C}, weight && bias);
  if (!g) return false;
  std::unordered_map<int64_t, void*> pack{{kX, const_cast<void*>(x)}, {kScale, const_cast<void*>(weight)},
                                          {kBias, const_cast<void*>(bias)}, {kEps, &eps}, {kY, out},
                                          {kMean, mean}, {kRstd, rstd}};
  execute_graph(ex, *g, pack, "layernorm_forward");
  return true;
}

bool cudnn_layernorm_backward(Exec& ex, DType dt, void* dx, void* dweight, void* dbias, const void* dout,
                              const void* x, const void* weight, const void* mean, const void* rstd, int64_t N,
                              int64_t C) {
  const CachedGraph* g = graph_for(ex, NormCall{Norm::layer, true, dt, N, C}, weight != nullptr);
  if (!g) return false;
  const size_t el = dtype_size(dt);
  auto* s = static_cast<char*>(cudnn_state(ex).grads.at_least(static_cast<size_t>(N * C + 2 * C) * el));
  std::unordered_map<int64_t, void*> pack{
      {kX, const_cast<void*>(x)},       {kScale, const_cast<void*>(weight)}, {kDY, const_cast<void*>(dout)},
      {kMean, const_cast<void*>(mean)}, {kRstd, const_cast<void*>(rstd)},    {kDX, s},
      {kDScale, s + N * C * el},        {kDBias, s + (N * C + C) * el}};
  execute_graph(ex, *g, pack, "layernorm_backward");
  add_grads(ex, dt, s, N, C, dx, dweight, dbias);
  return true;
}

bool cudnn_rmsnorm_forward(Exec& ex, DType dt, void* out, void* rstd, const void* x, const void* weight, int64_t N,
                           int64_t C, float eps) {
  const CachedGraph* g = graph_for(ex, NormCall{Norm::rms, false, dt, N, C}, weight != nullptr);
  if (!g) return false;
  std::unordered_map<int64_t, void*> pack{{kX, const_cast<void*>(x)}, {kScale, const_cast<void*>(weight)},
                                          {kEps, &eps}, {kY, out}, {kRstd, rstd}};
  execute_graph(ex, *g, pack, "rmsnorm_forward");
  return true;
}

bool cudnn_rmsnorm_backward(Exec& ex, DType dt, void* dx, void* dweight, const void* dout, const void* x,
                            const void* weight, const void* rstd, int64_t N, int64_t C) {
  const CachedGraph* g = graph_for(ex, NormCall{Norm::rms, true, dt, N, C}, weight != nullptr);
  if (!g) return false;
  const size_t el = dtype_size(dt);
  auto* s = static_cast<char*>(cudnn_state(ex).grads.at_least(static_cast<size_t>(N * C + C) * el));
  std::unordered_map<int64_t, void*> pack{{kX, const_cast<void*>(x)},       {kScale, const_cast<void*>(weight)},
                                          {kDY, const_cast<void*>(dout)},   {kRstd, const_cast<void*>(rstd)},
                                          {kDX, s},                         {kDScale, s + N * C * el}};
  execute_graph(ex, *g, pack, "rmsnorm_backward");
  add_grads(ex, dt, s, N, C, dx, dweight, nullptr);
  return true;
}

}  // namespace weft::cuda

#else  // no cuDNN frontend in this build: every call stays with our kernels

namespace weft::cuda {

static bool cudnn_norm_required(const Exec& ex) {
  if (ex.norm == KernelBackend::cudnn)
    WEFT_FAIL("[norm] --norm-backend cudnn: this weft was built without cuDNN's frontend "
              "(tools/install-cudnn-frontend.sh, then reconfigure the CUDA build)");
  return false;
}

bool cudnn_layernorm_forward(Exec& ex, DType, void*, void*, void*, const void*, const void*, const void*, int64_t,
                             int64_t, float) {
  return cudnn_norm_required(ex);
}
bool cudnn_layernorm_backward(Exec& ex, DType, void*, void*, void*, const void*, const void*, const void*,
                              const void*, const void*, int64_t, int64_t) {
  return cudnn_norm_required(ex);
}
bool cudnn_rmsnorm_forward(Exec& ex, DType, void*, void*, const void*, const void*, int64_t, int64_t, float) {
  return cudnn_norm_required(ex);
}
bool cudnn_rmsnorm_backward(Exec& ex, DType, void*, void*, const void*, const void*, const void*, const void*,
                            int64_t, int64_t) {
  return cudnn_norm_required(ex);
}

}  // namespace weft::cuda

#endif
