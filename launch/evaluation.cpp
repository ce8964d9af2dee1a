// The evaluation loop.
#include "launch/evaluation.h"

#include <algorithm>
#include <vector>

#include "runtime/graph.h"

namespace weft::launch {

EvalTotals evaluate_windows(models::Model& model, ParamStore& params, Exec& ex, Arena& arena,
                            const data::WindowLoader& loader, const EvalRequest& request, par::Communicator& comm) {
  const int64_t T = loader.seq_len(), B = request.batch_size;
  WEFT_CHECK(B > 0, "--batch-size must be positive, got ", B);
  WEFT_CHECK(T <= model.max_seq_len(), "--seq-len ", T, ": model '", model.name(), "' supports sequences of at most ",
             model.max_seq_len(), " tokens");
  const int64_t total = std::min(request.windows, loader.windows());
  OwnedTensor in(DType::i32, {B, T}), tg(DType::i32, {B, T});
  OwnedTensor din, dtg;
  if (ex.device != Device::cpu) {
    din = OwnedTensor(DType::i32, {B, T}, ex.device);
    dtg = OwnedTensor(DType::i32, {B, T}, ex.device);
  }
  std::vector<float> losses(static_cast<size_t>(B * T));
  std::vector<double> wide(static_cast<size_t>(B * T));
  EvalTotals totals;
  Graph g(ex, arena);
  g.grad_enabled = false;
  // Batches of B consecutive windows, dealt round-robin to ranks.
  for (int64_t first = comm.rank() * B; first < total; first += B * comm.size()) {
    const int64_t n = std::min(B, total - first), N = n * T;
    for (int64_t b = 0; b < n; ++b) loader.sequential(first + b, in.ptr<int32_t>() + b * T, tg.ptr<int32_t>() + b * T);
    Tensor ids = in.tensor().slice_rows(0, n), targets = tg.tensor().slice_rows(0, n);
    if (ex.device != Device::cpu) {
      const size_t bytes = static_cast<size_t>(N) * sizeof(int32_t);
      device_copy(ex.device, din.tensor().data, Device::cpu, ids.data, bytes);
      device_copy(ex.device, dtg.tensor().data, Device::cpu, targets.data, bytes);
      ids = din.tensor().slice_rows(0, n);
      targets = dtg.tensor().slice_rows(0, n);
    }
    Var logits = model.logits(g, params, ids);  // (n, T, V)
    const int64_t V = logits->value.shape[logits->value.shape.rank - 1];
    Tensor per_token = ops::token_losses(g, ops::reshape(g, logits, {N, V}), g.constant(targets.reshape({N})));
    if (per_token.dtype == DType::f64) {
      device_copy(Device::cpu, wide.data(), ex.device, per_token.data, static_cast<size_t>(N) * sizeof(double));
    } else {
      device_copy(Device::cpu, losses.data(), ex.device, per_token.data, static_cast<size_t>(N) * sizeof(float));
      std::copy(losses.begin(), losses.begin() + N, wide.begin());
    }
    for (int64_t i = 0; i < N; ++i) totals.loss_sum += wide[i];  // token order: independent of batching
    totals.tokens += data::count_targets(tg.ptr<int32_t>(), N);  // padded: pads and end-of-text do not count
    g.clear();
  }
  double buf[2] = {totals.loss_sum, static_cast<double>(totals.tokens)};
  if (comm.size() > 1) comm.all_reduce(buf, 2, DType::f64, par::ReduceOp::sum);
  return EvalTotals{buf[0], static_cast<int64_t>(buf[1])};
}

}  // namespace weft::launch
