// Batched generation with the model's decode cache, or by recomputing each row's window (launch/sampling.h).
#include "launch/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/kernels.h"
#include "runtime/memory.h"

namespace weft::launch {

namespace {

constexpr int64_t kFewTokens = 16;  // CPU calls with fewer new tokens run on one thread (generate())

// Row `row` of logits (N, V) (any device, any float dtype) widened to f32 on the host.
void logits_row_to_host(Exec& ex, const Tensor& logits, int64_t row, std::vector<float>& out) {
  const int64_t V = logits.shape[logits.shape.rank - 1];
  const size_t es = dtype_size(logits.dtype);
  std::vector<char> raw(static_cast<size_t>(V) * es);
  device_copy(Device::cpu, raw.data(), ex.device, static_cast<const char*>(logits.data) + row * V * es, raw.size());
  out.resize(static_cast<size_t>(V));
  Exec host;  // one thread on the CPU; not cpu_exec(1), which would also set OpenBLAS to one thread
  cpu::cast(host, DType::f32, out.data(), logits.dtype, raw.data(), V, false);
}

// The next token from a row of logits: argmax at temperature 0, else a draw among the top k.
int32_t choose_token(const std::vector<float>& logits, double temperature, int64_t top_k, Rng& rng) {
  const float* last = logits.data();
  const int64_t V = static_cast<int64_t>(logits.size());
  if (temperature == 0) return static_cast<int32_t>(std::max_element(last, last + V) - last);
  std::vector<int32_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  const int64_t k = top_k > 0 ? std::min(top_k, V) : V;
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) { return last[a] > last[b]; });
  std::vector<double> p(k);
  double mx = last[order[0]], total = 0;
  for (int64_t i = 0; i < k; ++i) total += (p[i] = std::exp((last[order[i]] - mx) / temperature));
  double u = rng.uniform() * total, acc = 0;
  for (int64_t i = 0; i < k; ++i)
    if ((acc += p[i]) >= u) return order[i];
  return order[k - 1];
}

// ids (B, n) i32 on the device of `g`, from host rows of equal length n.
Tensor device_ids(Graph& g, const std::vector<const int32_t*>& rows, int64_t n) {
  const int64_t B = static_cast<int64_t>(rows.size());
  std::vector<int32_t> host(static_cast<size_t>(B * n));
  for (int64_t b = 0; b < B; ++b) std::copy_n(rows[b], n, host.begin() + b * n);
  Tensor ids = g.alloc(DType::i32, {B, n});
  device_copy(g.device(), ids.data, Device::cpu, host.data(), host.size() * sizeof(int32_t));
  return ids;
}

}  // namespace

std::vector<std::vector<int32_t>> generate(models::Model& model, ParamStore& store, Exec& ex,
                                           const std::vector<std::vector<int32_t>>& prompts, int32_t eot,
                                           const SampleOptions& opts,
                                           const std::function<void(size_t, int32_t)>& on_token,
                                           const std::function<void(size_t)>& on_done) {
  const size_t P = prompts.size();
  const int64_t W = opts.window;
  WEFT_CHECK(W > 0, "[sample] the context window must be positive, got ", W);
  // On the CPU a call with few new tokens (a sampling step of a few rows) runs on one thread: its GEMMs are
  // GEMVs of well under a millisecond, shorter than a parallel region costs on a busy machine, where a barrier
  // waits for a descheduled thread (measured on the loaded 2-core machine: --threads 2 made cached sampling
  // 12x slower than --threads 1, docs/benchmarks.md). cpu_exec(n) also sets the BLAS library's thread count,
  // so switching between the two graphs re-applies it.
  const bool on_cpu = ex.device == Device::cpu;
  Exec single = on_cpu ? cpu_exec(1) : ex;
  int blas_threads = 1;
  Arena arena(ex.device), single_arena(ex.device);
  Graph many_g(ex, arena), single_g(single, single_arena);
  many_g.grad_enabled = single_g.grad_enabled = false;
  auto graph_for = [&](int64_t new_tokens) -> Graph& {
    if (!on_cpu) return many_g;
    const int want = new_tokens < kFewTokens ? 1 : ex.threads;
    if (want != blas_threads) {
      cpu_exec(want);
      blas_threads = want;
    }
    return want == 1 ? single_g : many_g;
  };
  Rng rng(opts.seed);
  std::vector<std::vector<int32_t>> ids = prompts, generated(P);
  std::vector<std::vector<float>> next_logits(P);  // [row] (V) the logits the row's next token is drawn from
  std::vector<bool> active(P, true);
  std::unique_ptr<models::DecodeCache> cache = opts.use_cache ? model.begin_decode(store, ex, static_cast<int64_t>(P), W) : nullptr;

  // A row's logits by recomputing its last W tokens.
  auto recompute = [&](size_t r) {
    const int64_t T = std::min<int64_t>(static_cast<int64_t>(ids[r].size()), W);
    Graph& g = graph_for(T);
    Var logits = model.logits(g, store, device_ids(g, {ids[r].data() + ids[r].size() - T}, T));  // (1, T, V)
    logits_row_to_host(ex, logits->value.reshape({T, logits->value.shape[2]}), T - 1, next_logits[r]);
    g.clear();
  };
  // Items (cache row, its new ids) through the cache: the logits of each item's last new token.
  auto decode = [&](const std::vector<int64_t>& rows, const std::vector<const int32_t*>& new_ids, int64_t n) {
    Graph& g = graph_for(static_cast<int64_t>(rows.size()) * n);
    Var logits = model.decode(g, store, *cache, device_ids(g, new_ids, n), rows);  // (B, n, V)
    const Tensor flat = logits->value.reshape({logits->value.shape[0] * n, logits->value.shape[2]});
    for (size_t b = 0; b < rows.size(); ++b)
      logits_row_to_host(ex, flat, static_cast<int64_t>(b) * n + n - 1, next_logits[rows[b]]);
    g.clear();
  };
  // Cached rows extend their cache by their last token (one batch); the others recompute.
  auto advance = [&](const std::vector<size_t>& rows) {
    std::vector<int64_t> batch;
    std::vector<const int32_t*> last;
    for (size_t r : rows) {
      const int64_t held = static_cast<int64_t>(ids[r].size()) - 1;  // tokens in the cache when it kept up
      if (cache && cache->lengths[r] == held && held < W) {
        batch.push_back(static_cast<int64_t>(r));
        last.push_back(&ids[r].back());
      } else {
        recompute(r);
      }
    }
    if (!batch.empty()) decode(batch, last, 1);
  };

  for (size_t r = 0; r < P; ++r) {  // prefill: each prompt through the cache (one row at a time), or recompute
    WEFT_CHECK(!prompts[r].empty(), "[sample] prompt ", r, " has no tokens");
    const int64_t n = static_cast<int64_t>(prompts[r].size());
    if (cache && n <= W) decode({static_cast<int64_t>(r)}, {prompts[r].data()}, n);
    else recompute(r);
  }
  for (int64_t step = 0; step < opts.max_new; ++step) {
    std::vector<size_t> extend;
    for (size_t r = 0; r < P; ++r) {
      if (!active[r]) continue;
      const int32_t next = choose_token(next_logits[r], opts.temperature, opts.top_k, rng);
      if (next == eot) {
        active[r] = false;
        on_done(r);
        continue;
      }
      ids[r].push_back(next);
      generated[r].push_back(next);
      on_token(r, next);
      if (step + 1 < opts.max_new) extend.push_back(r);
    }
    if (extend.empty()) break;
    advance(extend);
  }
  for (size_t r = 0; r < P; ++r)
    if (active[r]) on_done(r);
  if (on_cpu && blas_threads != ex.threads) cpu_exec(ex.threads);  // the caller's BLAS thread count again
  return generated;
}

size_t complete_utf8_prefix(const std::string& text) {
  const size_t n = text.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {  // the last lead byte, at most 4 bytes back
    const unsigned char c = static_cast<unsigned char>(text[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte
    const size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return back >= need ? n : n - back;
  }
  return n;  // only continuation bytes: invalid, nothing to wait for
}

}  // namespace weft::launch
