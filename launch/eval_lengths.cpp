// weft eval --lengths: parsing, the per-length scoring loop (score_length) and the report (JSON lines on
// stdout, the table on stderr, --positions-out), all on rank 0 after the collective sums.
#include "launch/eval_lengths.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "data/loader.h"
#include "data/strided_windows.h"
#include "launch/evaluation.h"
#include "launch/metrics.h"
#include "launch/options.h"
#include "runtime/arena.h"
#include "runtime/graph.h"
#include "runtime/memory.h"

namespace weft::launch {

std::vector<int64_t> parse_lengths(const std::string& text) {
  std::vector<int64_t> lengths;
  size_t begin = 0;
  while (true) {
    const size_t end = std::min(text.find(',', begin), text.size());
    const std::string item = text.substr(begin, end - begin);
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || v <= 0)
      throw UsageError("--lengths '" + text + "': '" + item +
                       "' is not a positive integer (e.g. --lengths 128,256,512)");
    if (std::find(lengths.begin(), lengths.end(), v) != lengths.end())
      throw UsageError("--lengths '" + text + "': " + item + " is listed twice");
    lengths.push_back(v);
    if (end == text.size()) break;
    begin = end + 1;
  }
  return lengths;
}

WindowMode parse_window_mode(const std::string& text) {
  if (text == "nonoverlap") return WindowMode::nonoverlap;
  if (text == "sliding") return WindowMode::sliding;
  throw UsageError("--mode '" + text + "': expected nonoverlap or sliding");
}

int64_t stride_for(const LengthEvalRequest& request, int64_t length) {
  if (request.mode == WindowMode::nonoverlap) return length;
  return request.stride > 0 ? request.stride : std::max<int64_t>(length / 2, 1);
}

std::vector<int64_t> position_bin_edges(int64_t length) {
  std::vector<int64_t> edges{0};
  for (int64_t e = 1; e < length; e *= 2) edges.push_back(e);
  edges.push_back(length);
  return edges;
}

namespace {

const char* mode_name(WindowMode m) { return m == WindowMode::nonoverlap ? "nonoverlap" : "sliding"; }

// One length's sums (identical on every rank once scored) or the reason it did not run.
struct LengthResult {
  int64_t length = 0, stride = 0, windows = 0, tokens = 0;
  double loss_sum = 0.0;                // summed NLL (nats) of the scored targets, in window order
  std::vector<double> position_sum;     // [L] summed NLL of the scored targets at each window position
  std::vector<int64_t> position_count;  // [L]
  std::string error;                    // non-empty: the length did not run
  double loss() const { return tokens > 0 ? loss_sum / static_cast<double>(tokens) : 0.0; }
};

// Scores windows [0, total) of `windows`. Batch j is always windows [j B, j B + B) and goes to rank
// j mod world: rounds of R = B * world windows, rank r scoring [round + r B, round + r B + B). The round's
// per-token losses (R, L), zero where another rank scored, are summed over ranks (exact: one nonzero term
// per value), then added on every rank in window order. A forward pass runs an even number of rows (n L):
// when n L is odd a copy of the last window rides along, unscored, because OpenBLAS's GEMM rounds a
// lone tail row differently (measured: with odd rows the losses depended on --batch-size).
void score_length(models::Model& model, ParamStore& params, Exec& ex, Arena& arena, const data::StridedWindows& windows,
                  int64_t total, int64_t B, par::Communicator& comm, LengthResult& out) {
  const int64_t L = windows.length(), world = comm.size(), R = B * world;
  OwnedTensor in(DType::i32, {B + 1, L}), tg(DType::i32, {B + 1, L});
  OwnedTensor din, dtg;
  if (ex.device != Device::cpu) {
    din = OwnedTensor(DType::i32, {B + 1, L}, ex.device);
    dtg = OwnedTensor(DType::i32, {B + 1, L}, ex.device);
  }
  std::vector<double> round_losses(static_cast<size_t>(R * L));  // (R, L)
  std::vector<float> floats;
  std::vector<double> token_losses;  // (rows, L) of one forward pass
  std::vector<int32_t> inputs_k(static_cast<size_t>(L)), targets_k(static_cast<size_t>(L));
  out.position_sum.assign(static_cast<size_t>(L), 0.0);
  out.position_count.assign(static_cast<size_t>(L), 0);
  Graph g(ex, arena);
  g.grad_enabled = false;
  for (int64_t round = 0; round < total; round += R) {
    std::fill(round_losses.begin(), round_losses.end(), 0.0);
    const int64_t first = round + comm.rank() * B, n = std::clamp<int64_t>(total - first, 0, B);
    if (n > 0) {
      const int64_t rows = (n * L) % 2 == 1 ? n + 1 : n;  // windows in the forward pass (the last one twice)
      for (int64_t b = 0; b < rows; ++b)
        windows.window(first + std::min(b, n - 1), in.ptr<int32_t>() + b * L, tg.ptr<int32_t>() + b * L);
      const auto [ids, targets] = batch_rows_on(ex.device, in, tg, din, dtg, rows);  // (rows, L) each
      Var logits = model.logits(g, params, ids);  // (rows, L, V)
      token_losses.resize(static_cast<size_t>(rows * L));
      host_token_losses(g, ex, logits, targets, rows * L, floats, token_losses.data());
      std::copy(token_losses.begin(), token_losses.begin() + n * L, round_losses.begin() + (first - round) * L);
      g.clear();
    }
    if (world > 1) comm.all_reduce(round_losses.data(), R * L, DType::f64, par::ReduceOp::sum);
    for (int64_t k = round; k < std::min(round + R, total); ++k) {  // window order, on every rank
      windows.window(k, inputs_k.data(), targets_k.data());
      const double* loss = round_losses.data() + (k - round) * L;
      for (int64_t p = 0; p < L; ++p) {
        if (targets_k[static_cast<size_t>(p)] == data::kIgnoreIndex) continue;  // not scored here, or masked
        out.loss_sum += loss[p];
        out.position_sum[static_cast<size_t>(p)] += loss[p];
        ++out.position_count[static_cast<size_t>(p)];
        ++out.tokens;
      }
    }
  }
  out.windows = total;
}

// Mean NLL per bin of position_bin_edges (null where no target of the bin counted).
std::vector<double> binned_loss(const LengthResult& r, const std::vector<int64_t>& edges) {
  std::vector<double> means;
  for (size_t i = 0; i + 1 < edges.size(); ++i) {
    double sum = 0.0;
    int64_t count = 0;
    for (int64_t p = edges[i]; p < edges[i + 1]; ++p) {
      sum += r.position_sum[static_cast<size_t>(p)];
      count += r.position_count[static_cast<size_t>(p)];
    }
    means.push_back(count > 0 ? sum / static_cast<double>(count) : NAN);
  }
  return means;
}

std::string result_json(const LengthResult& r, WindowMode mode) {
  JsonLine json;
  json.integer("length", r.length).str("mode", mode_name(mode)).integer("stride", r.stride);
  if (!r.error.empty()) return json.str("error", r.error).text();
  const std::vector<int64_t> edges = position_bin_edges(r.length);
  json.integer("windows", r.windows)
      .integer("tokens", r.tokens)
      .num("loss", r.loss())
      .num("perplexity", std::exp(r.loss()));
  return json.integers("position_bins", edges).nums("position_loss", binned_loss(r, edges)).text();
}

std::string positions_json(const LengthResult& r, WindowMode mode) {
  std::vector<double> means(r.position_sum.size());
  for (size_t p = 0; p < means.size(); ++p)
    means[p] = r.position_count[p] > 0 ? r.position_sum[p] / static_cast<double>(r.position_count[p]) : NAN;
  JsonLine json;
  json.integer("length", r.length).str("mode", mode_name(mode)).integer("stride", r.stride);
  return json.nums("position_loss", means).integers("position_tokens", r.position_count).text();
}

void print_table(const std::vector<LengthResult>& results, WindowMode mode) {
  std::fprintf(stderr, "%8s  %-10s  %7s  %8s  %10s  %9s  %11s\n", "length", "mode", "stride", "windows", "tokens",
               "loss", "perplexity");
  for (const LengthResult& r : results) {
    if (!r.error.empty()) {
      std::fprintf(stderr, "%8lld  %-10s  %7lld  error: %s\n", static_cast<long long>(r.length), mode_name(mode),
                   static_cast<long long>(r.stride), r.error.c_str());
      continue;
    }
    std::fprintf(stderr, "%8lld  %-10s  %7lld  %8lld  %10lld  %9.4f  %11.5g\n", static_cast<long long>(r.length),
                 mode_name(mode), static_cast<long long>(r.stride), static_cast<long long>(r.windows),
                 static_cast<long long>(r.tokens), r.loss(), std::exp(r.loss()));
  }
}

}  // namespace

int evaluate_lengths(models::Model& model, ParamStore& params, Exec& ex,
                     const std::vector<std::shared_ptr<const data::Shard>>& shards,
                     const std::vector<std::shared_ptr<const data::Shard>>& masks, const std::string& split,
                     const LengthEvalRequest& request, par::Communicator& comm) {
  const int64_t B = request.batch_size;
  if (B <= 0) throw UsageError("--batch-size must be positive, got " + std::to_string(B));
  if (request.batches < 0) throw UsageError("--batches must be >= 0, got " + std::to_string(request.batches));
  if (request.mode == WindowMode::nonoverlap && request.stride != 0)
    throw UsageError("--stride applies to --mode sliding (nonoverlap advances by the length)");
  for (int64_t L : request.lengths)
    if (request.stride > L)
      throw UsageError("--stride " + std::to_string(request.stride) + " is longer than --lengths " + std::to_string(L) +
                       " (need 1 <= stride <= length)");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> positions(nullptr, &std::fclose);  // rank 0 writes
  if (!request.positions_out.empty() && comm.rank() == 0) {
    positions.reset(std::fopen(request.positions_out.c_str(), "w"));
    if (!positions) throw UsageError("--positions-out '" + request.positions_out + "': " + std::strerror(errno));
  }
  Arena arena(ex.device);
  std::vector<LengthResult> results;
  for (int64_t L : request.lengths) {
    LengthResult r;
    r.length = L;
    r.stride = stride_for(request, L);
    data::StridedWindows windows(shards, masks, L, r.stride);
    int64_t total = windows.windows();
    if (request.batches > 0) total = std::min(total, request.batches * B);
    if (L > model.max_seq_len())
      r.error = "model '" + model.name() + "' supports sequences of at most " + std::to_string(model.max_seq_len()) +
                " tokens";
    else if (total == 0)
      r.error = "the " + split + " split holds no window of " + std::to_string(L) + " tokens (its longest shard has " +
                std::to_string(windows.longest_shard()) + ")";
    else score_length(model, params, ex, arena, windows, total, B, comm, r);
    if (comm.rank() == 0) {
      if (!r.error.empty())
        std::fprintf(stderr, "weft eval: --lengths %lld: %s\n", static_cast<long long>(L), r.error.c_str());
      std::printf("%s\n", result_json(r, request.mode).c_str());
      std::fflush(stdout);
      if (positions && r.error.empty()) std::fprintf(positions.get(), "%s\n", positions_json(r, request.mode).c_str());
    }
    results.push_back(std::move(r));
  }
  positions.reset();
  if (comm.rank() == 0) print_table(results, request.mode);
  const bool any = std::any_of(results.begin(), results.end(), [](const LengthResult& r) { return r.error.empty(); });
  return any ? 0 : 2;
}

}  // namespace weft::launch
