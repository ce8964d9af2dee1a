// The evaluation loops: windows in file order (evaluate_windows) and consecutive segments of evaluation
// streams (evaluate_segments); both score a batch the same way (score_batch).
#include "launch/evaluation.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "runtime/graph.h"

namespace weft::launch {

namespace {

// An answer being scored: a run of consecutive counted targets, and whether every one so far was right.
struct Run {
  bool open = false, exact = true;
};

void close_run(Run& run, EvalTotals& totals) {
  if (!run.open) return;
  ++totals.sequences;
  totals.exact_sequences += run.exact ? 1 : 0;
  run = Run{};
}

// Buffers reused across batches (B T floats/doubles; the logits row by row for accuracy).
struct Scratch {
  std::vector<float> losses;
  std::vector<double> wide;
  std::vector<char> logits;
};

// Adds the batch's summed token losses and counted targets to `totals`; with accuracy, argmax hits, and the
// answers of row r continued in runs[r] (the caller closes them). tg_host: the (n, T) targets on the host.
void score_batch(Graph& g, Exec& ex, Var logits, const Tensor& targets, const int32_t* tg_host, int64_t n, int64_t T,
                 bool accuracy, Run* runs, Scratch& sc, EvalTotals& totals) {
  const int64_t N = n * T, V = logits->value.shape[logits->value.shape.rank - 1];
  host_token_losses(g, ex, logits, targets, N, sc.losses, sc.wide.data());
  for (int64_t i = 0; i < N; ++i) totals.loss_sum += sc.wide[i];  // token order: independent of batching
  totals.tokens += data::count_targets(tg_host, N);  // padded: pads and end-of-text do not count
  if (!accuracy) return;
  const Tensor& lv = logits->value;
  const size_t es = dtype_size(lv.dtype);
  sc.logits.resize(static_cast<size_t>(N * V) * es);
  device_copy(Device::cpu, sc.logits.data(), ex.device, lv.data, sc.logits.size());
  auto value = [&](int64_t i, int64_t v) -> double {  // logit v of token i, widened
    const char* p = sc.logits.data() + static_cast<size_t>(i * V + v) * es;
    if (lv.dtype == DType::f32) return *reinterpret_cast<const float*>(p);
    if (lv.dtype == DType::f64) return *reinterpret_cast<const double*>(p);
    bf16 h;
    std::memcpy(&h.bits, p, 2);
    return h.to_float();
  };
  for (int64_t r = 0; r < n; ++r)
    for (int64_t t = 0; t < T; ++t) {
      const int64_t i = r * T + t;
      if (tg_host[i] == data::kIgnoreIndex) {
        close_run(runs[r], totals);
        continue;
      }
      int64_t best = 0;
      double top = value(i, 0);
      for (int64_t v = 1; v < V; ++v)
        if (const double x = value(i, v); x > top) top = x, best = v;  // first maximum on ties
      const bool hit = best == tg_host[i];
      totals.correct += hit ? 1 : 0;
      if (!runs[r].open) runs[r] = Run{true, true};
      runs[r].exact = runs[r].exact && hit;
    }
}

EvalTotals reduce(EvalTotals t, par::Communicator& comm) {
  double buf[5] = {t.loss_sum, static_cast<double>(t.tokens), static_cast<double>(t.correct),
                   static_cast<double>(t.sequences), static_cast<double>(t.exact_sequences)};
  if (comm.size() > 1) comm.all_reduce(buf, 5, DType::f64, par::ReduceOp::sum);
  EvalTotals out;
  out.loss_sum = buf[0];
  out.tokens = static_cast<int64_t>(buf[1]);
  out.correct = static_cast<int64_t>(buf[2]);
  out.sequences = static_cast<int64_t>(buf[3]);
  out.exact_sequences = static_cast<int64_t>(buf[4]);
  return out;
}

void check_length(const models::Model& model, int64_t T) {
  WEFT_CHECK(T <= model.max_seq_len(), "--seq-len ", T, ": model '", model.name(), "' supports sequences of at most ",
             model.max_seq_len(), " tokens");
}

}  // namespace

std::pair<Tensor, Tensor> batch_rows_on(Device dev, const OwnedTensor& in, const OwnedTensor& tg, OwnedTensor& din,
                                        OwnedTensor& dtg, int64_t n) {
  Tensor ids = in.tensor().slice_rows(0, n), targets = tg.tensor().slice_rows(0, n);
  if (dev == Device::cpu) return {ids, targets};
  device_copy(dev, din.tensor().data, Device::cpu, ids.data, ids.nbytes());
  device_copy(dev, dtg.tensor().data, Device::cpu, targets.data, targets.nbytes());
  return {din.tensor().slice_rows(0, n), dtg.tensor().slice_rows(0, n)};
}

void host_token_losses(Graph& g, Exec& ex, Var logits, const Tensor& targets, int64_t N, std::vector<float>& floats,
                       double* out) {
  const int64_t V = logits->value.shape[logits->value.shape.rank - 1];
  Tensor per_token = ops::token_losses(g, ops::reshape(g, logits, {N, V}), g.constant(targets.reshape({N})));  // (N)
  if (per_token.dtype == DType::f64) {
    device_copy(Device::cpu, out, ex.device, per_token.data, static_cast<size_t>(N) * sizeof(double));
    return;
  }
  floats.resize(static_cast<size_t>(N));
  device_copy(Device::cpu, floats.data(), ex.device, per_token.data, static_cast<size_t>(N) * sizeof(float));
  std::copy(floats.begin(), floats.begin() + N, out);
}

EvalTotals evaluate_windows(models::Model& model, ParamStore& params, Exec& ex, Arena& arena,
                            const data::WindowLoader& loader, const EvalRequest& request, par::Communicator& comm) {
  const int64_t T = loader.seq_len(), B = request.batch_size;
  WEFT_CHECK(B > 0, "--batch-size must be positive, got ", B);
  check_length(model, T);
  const int64_t total = std::min(request.windows, loader.windows());
  OwnedTensor in(DType::i32, {B, T}), tg(DType::i32, {B, T});
  OwnedTensor din, dtg;
  if (ex.device != Device::cpu) {
    din = OwnedTensor(DType::i32, {B, T}, ex.device);
    dtg = OwnedTensor(DType::i32, {B, T}, ex.device);
  }
  Scratch sc{std::vector<float>(static_cast<size_t>(B * T)), std::vector<double>(static_cast<size_t>(B * T)), {}};
  std::vector<Run> runs(static_cast<size_t>(B));
  EvalTotals totals;
  Graph g(ex, arena);
  g.grad_enabled = false;
  // Batches of B consecutive windows, dealt round-robin to ranks.
  for (int64_t first = comm.rank() * B; first < total; first += B * comm.size()) {
    const int64_t n = std::min(B, total - first);
    for (int64_t b = 0; b < n; ++b) loader.sequential(first + b, in.ptr<int32_t>() + b * T, tg.ptr<int32_t>() + b * T);
    const auto [ids, targets] = batch_rows_on(ex.device, in, tg, din, dtg, n);  // (n, T) each
    Var logits = model.logits(g, params, ids);  // (n, T, V)
    score_batch(g, ex, logits, targets, tg.ptr<int32_t>(), n, T, request.accuracy, runs.data(), sc, totals);
    for (Run& r : runs) close_run(r, totals);  // an answer ends with its window
    g.clear();
  }
  return reduce(totals, comm);
}

EvalTotals evaluate_segments(models::Model& model, ParamStore& params, Exec& ex, Arena& arena,
                             const data::SegmentLoader& loader, const EvalRequest& request, par::Communicator& comm) {
  const int64_t T = loader.seq_len(), G = loader.streams();
  WEFT_CHECK(request.batch_size == G, "[eval] --pack segments: the loader has ", G, " streams, --batch-size is ",
             request.batch_size);
  check_length(model, T);
  const int64_t steps = std::min(loader.max_segments(), (std::max<int64_t>(request.windows, 0) + G - 1) / G);
  std::vector<int64_t> mine;  // this rank's streams: rank, rank + world, ...
  for (int64_t s = comm.rank(); s < G; s += comm.size()) mine.push_back(s);
  const int64_t M = std::max<int64_t>(static_cast<int64_t>(mine.size()), 1);
  OwnedTensor in(DType::i32, {M, T}), tg(DType::i32, {M, T});
  OwnedTensor din, dtg;
  if (ex.device != Device::cpu) {
    din = OwnedTensor(DType::i32, {M, T}, ex.device);
    dtg = OwnedTensor(DType::i32, {M, T}, ex.device);
  }
  Scratch sc{std::vector<float>(static_cast<size_t>(M * T)), std::vector<double>(static_cast<size_t>(M * T)), {}};
  std::vector<Run> runs(static_cast<size_t>(G)), row_runs(static_cast<size_t>(M));
  std::vector<int64_t> ids(static_cast<size_t>(M));
  std::vector<uint8_t> starts(static_cast<size_t>(M));
  std::vector<int64_t> rows_of(static_cast<size_t>(M));  // row -> stream
  EvalTotals totals;
  Graph g(ex, arena);
  g.grad_enabled = false;
  for (int64_t k = 0; k < steps; ++k) {
    int64_t n = 0;  // streams whose pass still has segment k
    for (int64_t s : mine) {
      if (k >= loader.segments(s)) continue;
      loader.segment(s, k, in.ptr<int32_t>() + n * T, tg.ptr<int32_t>() + n * T, &starts[static_cast<size_t>(n)]);
      ids[static_cast<size_t>(n)] = models::kEvalStreamBase + s;
      rows_of[static_cast<size_t>(n)] = s;
      row_runs[static_cast<size_t>(n)] = runs[static_cast<size_t>(s)];
      ++n;
    }
    if (n == 0) continue;
    const auto [inputs, targets] = batch_rows_on(ex.device, in, tg, din, dtg, n);  // (n, T) each
    models::Batch batch{inputs, targets, 0.0f, ids.data()};
    batch.starts = starts.data();
    Var logits = model.stream_logits(g, params, batch);  // (n, T, V)
    score_batch(g, ex, logits, targets, tg.ptr<int32_t>(), n, T, request.accuracy, row_runs.data(), sc, totals);
    for (int64_t r = 0; r < n; ++r) runs[static_cast<size_t>(rows_of[static_cast<size_t>(r)])] = row_runs[static_cast<size_t>(r)];
    g.clear();
  }
  for (Run& r : runs) close_run(r, totals);  // answers still open when the streams stop
  return reduce(totals, comm);
}

}  // namespace weft::launch
