// Representation accuracy (launch/analyze_represent.h): pseudo-inverse, projections, the Hamming metric and
// the gradient descent in embedding space. Host arithmetic is float64; the model runs in the store's dtype.
#include "launch/analyze_represent.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "launch/host_values.h"
#include "runtime/check.h"
#include "runtime/memory.h"
#include "runtime/rng.h"

namespace weft::launch {

namespace {

std::vector<double> download(const Tensor& t) { return host_doubles(t, "represent"); }

// A tensor of the graph's arena holding v in dtype dt (values are rounded to dt).
Tensor upload(Graph& g, DType dt, Shape shape, const std::vector<double>& v) {
  Tensor t = g.alloc(dt, shape);
  WEFT_CHECK(static_cast<size_t>(t.numel()) == v.size(), "[represent] ", v.size(), " values for ", t.str());
  if (dt == DType::f64) {
    device_copy(t.device, t.data, Device::cpu, v.data(), t.nbytes());
  } else {
    WEFT_CHECK(dt == DType::f32, "[represent] runs in f32 (or f64 in tests), got ", dtype_name(dt));
    std::vector<float> f(v.begin(), v.end());
    device_copy(t.device, t.data, Device::cpu, f.data(), t.nbytes());
  }
  return t;
}

double round_to(DType dt, double x) { return dt == DType::f32 ? static_cast<double>(static_cast<float>(x)) : x; }

}  // namespace

std::vector<double> pseudo_inverse(const std::vector<double>& E, int64_t V, int64_t C) {
  WEFT_CHECK(V > 0 && C > 0 && E.size() == static_cast<size_t>(V * C), "[pinv] E must hold V x C = ", V, " x ", C,
             " values, got ", E.size());
  WEFT_CHECK(V >= C, "[pinv] the embedding matrix (", V, " x ", C, ") has fewer rows than columns, so its column rank is "
             "below ", C, ": pinv(E) = (E^T E)^-1 E^T needs full column rank");
  // G = E^T E (C, C), lower triangle.
  std::vector<double> G(static_cast<size_t>(C * C), 0.0);
  for (int64_t v = 0; v < V; ++v) {
    const double* e = E.data() + v * C;
    for (int64_t i = 0; i < C; ++i)
      for (int64_t j = 0; j <= i; ++j) G[i * C + j] += e[i] * e[j];
  }
  double max_diag = 0.0;
  for (int64_t i = 0; i < C; ++i) max_diag = std::max(max_diag, G[i * C + i]);
  // Cholesky G = L L^T in place (lower triangle). A pivot below 1e-12 of the largest diagonal entry means a
  // condition number past ~1e12: the columns of E are (numerically) dependent.
  for (int64_t j = 0; j < C; ++j) {
    double d = G[j * C + j];
    for (int64_t k = 0; k < j; ++k) d -= G[j * C + k] * G[j * C + k];
    WEFT_CHECK(d > 1e-12 * max_diag && max_diag > 0.0, "[pinv] the embedding matrix (", V, " x ", C,
               ") is rank deficient (E^T E is singular at column ", j, "): pinv(E) = (E^T E)^-1 E^T needs full column rank");
    const double l = std::sqrt(d);
    G[j * C + j] = l;
    for (int64_t i = j + 1; i < C; ++i) {
      double s = G[i * C + j];
      for (int64_t k = 0; k < j; ++k) s -= G[i * C + k] * G[j * C + k];
      G[i * C + j] = s / l;
    }
  }
  // Column v of P solves L L^T p = E[v].
  std::vector<double> P(static_cast<size_t>(C * V));
  std::vector<double> z(static_cast<size_t>(C));
  for (int64_t v = 0; v < V; ++v) {
    const double* e = E.data() + v * C;
    for (int64_t i = 0; i < C; ++i) {
      double s = e[i];
      for (int64_t k = 0; k < i; ++k) s -= G[i * C + k] * z[k];
      z[i] = s / G[i * C + i];
    }
    for (int64_t i = C; i-- > 0;) {
      double s = z[i];
      for (int64_t k = i + 1; k < C; ++k) s -= G[k * C + i] * z[k];
      z[i] = s / G[i * C + i];
    }
    for (int64_t i = 0; i < C; ++i) P[i * V + v] = z[i];
  }
  return P;
}

std::vector<int32_t> top_tokens(const std::vector<double>& x, int64_t N, const std::vector<double>& P, int64_t C,
                                int64_t V, int64_t k) {
  WEFT_CHECK(x.size() == static_cast<size_t>(N * C) && P.size() == static_cast<size_t>(C * V),
             "[represent] top_tokens: x must be (", N, ", ", C, ") and P (", C, ", ", V, ")");
  WEFT_CHECK(k >= 1 && k <= V, "[represent] top-k must be in [1, ", V, "], got ", k);
  std::vector<int32_t> out(static_cast<size_t>(N * k));
  std::vector<double> score(static_cast<size_t>(V));
  std::vector<int32_t> order(static_cast<size_t>(V));
  for (int64_t n = 0; n < N; ++n) {
    std::fill(score.begin(), score.end(), 0.0);
    for (int64_t c = 0; c < C; ++c) {
      const double xc = x[n * C + c];
      const double* p = P.data() + c * V;
      for (int64_t v = 0; v < V; ++v) score[v] += xc * p[v];
    }
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int32_t a, int32_t b) { return score[a] > score[b] || (score[a] == score[b] && a < b); });
    std::copy(order.begin(), order.begin() + k, out.begin() + n * k);
  }
  return out;
}

HammingCount hamming(const std::vector<int32_t>& ref, const std::vector<int32_t>& rec, int64_t k, int32_t pad) {
  WEFT_CHECK(k >= 1 && rec.size() == ref.size() * static_cast<size_t>(k), "[represent] hamming: ", rec.size(),
             " recovered ids for ", ref.size(), " positions x k = ", k);
  HammingCount h;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (ref[i] == pad) continue;
    ++h.positions;
    const auto first = rec.begin() + static_cast<ptrdiff_t>(i) * k;
    if (std::find(first, first + k, ref[i]) == first + k) ++h.misses;
  }
  return h;
}

EmbeddingInverse embedding_inverse(const models::Model& model, const ParamStore& store) {
  const Tensor E = model.token_embeddings(store);
  WEFT_CHECK(E.shape.rank == 2, "[represent] token embeddings must be (V, C), got ", E.str());
  EmbeddingInverse inv;
  inv.V = E.shape[0];
  inv.C = E.shape[1];
  inv.E = download(E);
  inv.P = pseudo_inverse(inv.E, inv.V, inv.C);
  return inv;
}

RepresentResult represent_batch(models::Model& model, ParamStore& store, Exec& ex, const EmbeddingInverse& inv,
                                const std::vector<int32_t>& ids, int64_t B, int64_t T, int32_t pad,
                                int64_t first_sample, const RepresentOptions& opt) {
  const int64_t C = inv.C, N = B * T;
  WEFT_CHECK(ids.size() == static_cast<size_t>(N), "[represent] ids must be (", B, ", ", T, "), got ", ids.size(),
             " ids");
  WEFT_CHECK(opt.steps >= 0, "[represent] steps must be >= 0, got ", opt.steps);
  const DType dt = store.dtype();
  const Shape shape{B, T, C};
  // e = E[t], exact in the store's dtype.
  std::vector<double> e(static_cast<size_t>(N * C));
  for (int64_t n = 0; n < N; ++n) {
    const int32_t t = ids[n];
    WEFT_CHECK(t >= 0 && t < inv.V, "[represent] token id ", t, " outside the vocabulary of ", inv.V);
    std::copy(inv.E.begin() + t * C, inv.E.begin() + (t + 1) * C, e.begin() + n * C);
  }
  Arena arena(ex.device);
  Graph g(ex, arena);
  g.grad_enabled = false;
  const std::vector<double> y = download(model.blocks_from_embeddings(g, store, g.constant(upload(g, dt, shape, e)))->value);
  g.clear();
  WEFT_CHECK(y.size() == e.size(), "[represent] blocks_from_embeddings returned ", y.size(), " values for ", e.size());

  // a_0 ~ N(0, I), one Philox stream per sample.
  std::vector<double> a(e.size());
  for (int64_t b = 0; b < B; ++b) {
    Rng r(opt.seed, static_cast<uint32_t>(2 * (first_sample + b)));
    for (int64_t i = 0; i < T * C; ++i) a[b * T * C + i] = round_to(dt, r.normal());
  }
  // One forward (and, when descending, the backward) at a: the L1 loss, and the gradient into grad.
  std::vector<double> seed(e.size());
  auto l1_at = [&](std::vector<double>* grad) {
    g.grad_enabled = grad != nullptr;
    Var av = g.input(upload(g, dt, shape, a), grad != nullptr);
    Var fa = model.blocks_from_embeddings(g, store, av);
    const std::vector<double> f = download(fa->value);
    double loss = 0.0;
    for (size_t i = 0; i < f.size(); ++i) {
      const double d = f[i] - y[i];
      loss += std::fabs(d);
      seed[i] = d > 0.0 ? 1.0 : d < 0.0 ? -1.0 : 0.0;  // d/df sum |y - f| (0 at a tie, as torch.abs)
    }
    if (grad) {
      g.backward({fa}, {upload(g, dt, shape, seed)});
      *grad = av->grad.defined() ? download(av->grad) : std::vector<double>(e.size(), 0.0);
    }
    g.clear();
    return loss;
  };
  RepresentResult res;
  res.samples = B;
  res.elements = N * C;
  std::vector<double> grad;
  const double K = static_cast<double>(opt.steps);
  for (int64_t i = 0; i < opt.steps; ++i) {
    const double loss = l1_at(&grad);
    if (i == 0) res.l1_start = loss;
    const double eta = opt.eta_start * (K - static_cast<double>(i)) / K + opt.eta_end * static_cast<double>(i) / K;
    for (size_t j = 0; j < a.size(); ++j) a[j] = round_to(dt, a[j] - eta * grad[j]);
  }
  res.l1_end = l1_at(nullptr);
  if (opt.steps == 0) res.l1_start = res.l1_end;
  g.grad_enabled = true;
  store.zero_grads();  // the weights were frozen: drop what the tape accumulated into their gradients

  // ref = argmax((e + noise) P), rec = top-k of a_K P.
  std::vector<double> noisy = e;
  for (int64_t b = 0; b < B; ++b) {
    Rng r(opt.seed, static_cast<uint32_t>(2 * (first_sample + b) + 1));
    for (int64_t i = 0; i < T * C; ++i) noisy[b * T * C + i] += opt.ref_noise * r.normal();
  }
  const std::vector<int32_t> ref = top_tokens(noisy, N, inv.P, C, inv.V, 1);
  const std::vector<int32_t> rec = top_tokens(a, N, inv.P, C, inv.V, opt.top_k);
  res.count = hamming(ref, rec, opt.top_k, pad);
  return res;
}

}  // namespace weft::launch
