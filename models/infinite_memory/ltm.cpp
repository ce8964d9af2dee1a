// The long-term memory pieces (models/infinite_memory/ltm.h): host constants in float64 and the graph
// compositions of the update and the continuous attention. No new kernels: everything is built from ops.
#include "models/infinite_memory/ltm.h"

#include <algorithm>
#include <cmath>

#include "models/common/constants.h"
#include "runtime/check.h"
#include "runtime/memory.h"

namespace weft::models::ltm {

namespace {
constexpr double kPi = 3.14159265358979323846;

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// X = A^-1 R for a symmetric positive definite A (n, n) and R (n, m), both row-major; A is overwritten.
void cholesky_solve(std::vector<double>& A, std::vector<double>& R, int64_t n, int64_t m) {
  for (int64_t j = 0; j < n; ++j) {  // A = L L^T, L in the lower triangle
    double d = A[j * n + j];
    for (int64_t k = 0; k < j; ++k) d -= A[j * n + k] * A[j * n + k];
    WEFT_CHECK(d > 0.0, "[infinite] the ridge system is not positive definite (--ltm-ridge must be > 0)");
    const double l = std::sqrt(d);
    A[j * n + j] = l;
    for (int64_t i = j + 1; i < n; ++i) {
      double s = A[i * n + j];
      for (int64_t k = 0; k < j; ++k) s -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = s / l;
    }
  }
  for (int64_t c = 0; c < m; ++c) {  // L y = r, then L^T x = y, column by column
    for (int64_t i = 0; i < n; ++i) {
      double s = R[i * m + c];
      for (int64_t k = 0; k < i; ++k) s -= A[i * n + k] * R[k * m + c];
      R[i * m + c] = s / A[i * n + i];
    }
    for (int64_t i = n - 1; i >= 0; --i) {
      double s = R[i * m + c];
      for (int64_t k = i + 1; k < n; ++k) s -= A[k * n + i] * R[k * m + c];
      R[i * m + c] = s / A[i * n + i];
    }
  }
}

std::vector<double> linspace(double lo, double hi, int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = n == 1 ? lo : lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n - 1);
  return v;
}
}  // namespace

Basis gaussian_basis(int64_t n_basis, const std::vector<double>& widths) {
  const int64_t W = static_cast<int64_t>(widths.size());
  WEFT_CHECK(W >= 1 && n_basis % W == 0 && n_basis / W >= 2, "--ltm-basis ", n_basis,
             " must be a multiple (>= 2x) of the number of --ltm-widths (", W, ")");
  Basis b;
  const int64_t centres = n_basis / W;
  for (int64_t n = 0; n < n_basis; ++n) {
    b.mu.push_back(static_cast<double>(n / W) / static_cast<double>(centres - 1));
    b.sigma.push_back(widths[static_cast<size_t>(n % W)]);
  }
  return b;
}

double normal_pdf(double t, double mu, double var) {
  return std::exp(-(t - mu) * (t - mu) / (2.0 * var)) / std::sqrt(2.0 * kPi * var);
}

std::vector<double> evaluate(const Basis& basis, const std::vector<double>& t) {
  const int64_t N = basis.size();
  std::vector<double> out(t.size() * static_cast<size_t>(N));
  for (size_t j = 0; j < t.size(); ++j)
    for (int64_t n = 0; n < N; ++n) out[j * N + n] = normal_pdf(t[j], basis.mu[n], basis.sigma[n] * basis.sigma[n]);
  return out;
}

Design first_update_design(int64_t L) {
  WEFT_CHECK(L >= 1, "[infinite] a memory update needs at least one vector");
  Design d;
  d.positions = L % 2 ? linspace(-0.5 + 1.0 / L, 1.5 - 1.0 / L, 2 * L - 1)
                      : linspace(-0.5 + 1.0 / (2.0 * L), 1.5 - 1.0 / (2.0 * L), 2 * L);
  d.first_real = L % 2 ? (L - 1) / 2 : L / 2;
  d.n_real = L;
  return d;
}

Design contraction_design(int64_t M, int64_t L, double tau) {
  const int64_t n = M + L;
  const double s = 1.0 / static_cast<double>(2 * L + M);
  const std::vector<double> pad = linspace(-0.5 + s, 1.5 - s, 2 * n);
  Design d;
  for (double t : pad)
    if (t < 0.0) d.positions.push_back(t);
  d.first_real = static_cast<int64_t>(d.positions.size());
  for (int64_t m = 1; m <= M; ++m) d.positions.push_back(tau * static_cast<double>(m) / static_cast<double>(M));
  for (int64_t j = 1; j <= L; ++j)
    d.positions.push_back(tau + (1.0 - tau) * static_cast<double>(j) / static_cast<double>(L));
  for (double t : pad)
    if (t > 1.0) d.positions.push_back(t);
  d.n_real = n;
  return d;
}

std::vector<double> ridge_matrix(const Basis& basis, const Design& design, double lambda) {
  const int64_t N = basis.size(), P = static_cast<int64_t>(design.positions.size());
  const std::vector<double> psi = evaluate(basis, design.positions);  // (P, N) = F^T
  std::vector<double> A(static_cast<size_t>(N * N), 0.0), F(static_cast<size_t>(N * P));
  for (int64_t j = 0; j < P; ++j)
    for (int64_t n = 0; n < N; ++n) F[n * P + j] = psi[j * N + n];
  for (int64_t a = 0; a < N; ++a)
    for (int64_t b = 0; b <= a; ++b) {
      double s = 0;
      for (int64_t j = 0; j < P; ++j) s += F[a * P + j] * F[b * P + j];
      A[a * N + b] = A[b * N + a] = s + (a == b ? lambda : 0.0);
    }
  cholesky_solve(A, F, N, P);  // F <- (F F^T + lambda I)^-1 F = G_full^T (N, P)
  std::vector<double> G(static_cast<size_t>(design.n_real * N));
  for (int64_t i = 0; i < design.n_real; ++i)
    for (int64_t n = 0; n < N; ++n) G[i * N + n] = F[n * P + design.first_real + i];
  return G;
}

std::vector<double> uniform_samples(int64_t M) {
  std::vector<double> u(static_cast<size_t>(M));
  for (int64_t m = 1; m <= M; ++m) u[m - 1] = static_cast<double>(m) / static_cast<double>(M);
  return u;
}

std::vector<double> sticky_bin_mass(const double* mu, const double* sigma, int64_t n, int64_t bins) {
  std::vector<double> p(static_cast<size_t>(bins), 0.0);
  for (int64_t d = 0; d < bins; ++d) {
    const double lo = d == 0 ? -1e-6 : static_cast<double>(d) / static_cast<double>(bins);
    const double hi = d == bins - 1 ? 1.0 + 1e-6 : static_cast<double>(d + 1) / static_cast<double>(bins);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += normal_cdf((hi - mu[i]) / sigma[i]) - normal_cdf((lo - mu[i]) / sigma[i]);
    p[d] = s;
  }
  double total = 0;
  for (double x : p) total += x;
  for (double& x : p) x = total > 0 ? x / total : 1.0 / static_cast<double>(bins);
  return p;
}

std::vector<double> sticky_samples(const std::vector<double>& mass, int64_t M, PhiloxKey key, uint32_t stream,
                                   uint64_t offset) {
  const int64_t D = static_cast<int64_t>(mass.size());
  std::vector<double> cum(mass.size());
  double s = 0;
  for (int64_t d = 0; d < D; ++d) cum[d] = (s += mass[d]);
  std::vector<double> u(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m) {
    const double x = static_cast<double>(philox_uniform(key, stream, offset, static_cast<uint64_t>(m))) * s;
    int64_t d = std::lower_bound(cum.begin(), cum.end(), x) - cum.begin();
    while (d > 0 && mass[d] == 0.0) --d;  // never a bin of zero mass (x on a flat stretch of the CDF)
    u[m] = static_cast<double>(std::min(d, D - 1)) / static_cast<double>(D);
  }
  std::sort(u.begin(), u.end());
  return u;
}

Var arena_constant(Graph& g, const std::vector<double>& values, Shape shape, DType dt) {
  OwnedTensor c = device_constant(values, shape, dt, g.device());
  Tensor kept = g.alloc(dt, shape);
  device_copy(g.device(), kept.data, g.device(), c.tensor().data, c.tensor().nbytes());
  return g.constant(kept);
}

Var mask_gate(Graph& g, const Weights& w, Var x) {
  const Shape s = x->value.shape;  // (B, L, e)
  const int64_t B = s[0], L = s[1], e = s[2];
  Var zero = arena_constant(g, std::vector<double>(static_cast<size_t>(B * e), 0.0), {B, 1, e}, x->value.dtype);
  Var prev = zero, next = zero;  // x[t - 1], x[t + 1] with zero padding
  if (L > 1) {
    std::vector<Var> head = ops::split(g, x, {L - 1, 1}, 1), tail = ops::split(g, x, {1, L - 1}, 1);
    prev = ops::concat(g, {zero, head[0]}, 1);
    next = ops::concat(g, {tail[1], zero}, 1);
  }
  Var taps = ops::concat(g, {prev, x, next}, 2);                                 // (B, L, 3e)
  Var conv = ops::linear(g, taps, ops::reshape(g, w.mask_w, {e, 3 * e}), w.mask_b);  // (B, L, e)
  return ops::mul(g, x, ops::sigmoid(g, conv));
}

Var sample_old(Graph& g, Var psi, Var coef_past) { return ops::matmul(g, psi, coef_past); }

Var update(Graph& g, Var x_old, Var x_new, Var G) {
  Var x = x_old ? ops::concat(g, {x_old, x_new}, 1) : x_new;  // (B, n, e)
  const int64_t B = x->value.shape[0], e = x->value.shape[2], N = G->value.shape[1];
  WEFT_CHECK(G->value.shape[0] == x->value.shape[1], "[infinite] G has ", G->value.shape[0], " rows for ",
             x->value.shape[1], " memory vectors");
  Var coef_t = ops::matmul(g, x, G, true, false);  // (B, e, N)
  return ops::reshape(g, ops::transpose12(g, ops::reshape(g, coef_t, {B, e, N, 1})), {B, N, e});
}

Attention attend(Graph& g, const Weights& w, Var q, Var coef, Var basis_mu, Var basis_var, double sigma_floor,
                 double sigma0) {
  const Shape qs = q->value.shape;  // (B, q, H, d)
  const int64_t B = qs[0], Tq = qs[1], H = qs[2], d = qs[3], N = coef->value.shape[1], e = coef->value.shape[2];
  WEFT_CHECK(H * d == e, "[infinite] query heads ", H, " x ", d, " do not match the memory width ", e);
  const DType dt = q->value.dtype;
  auto heads = [&](Var lin) {  // (B, N, e) -> (B, H, N, d)
    return ops::transpose12(g, ops::reshape(g, lin, {B, N, H, d}));
  };
  Var kh = heads(ops::linear(g, coef, w.key)), vh = heads(ops::linear(g, coef, w.value));
  Var qh = ops::transpose12(g, q);                                                       // (B, H, q, d)
  Var s = ops::scale(g, ops::matmul(g, qh, kh, false, true), static_cast<float>(1.0 / std::sqrt(double(d))));
  Attention a;
  a.mu = ops::sigmoid(g, ops::linear(g, s, w.mu));                                       // (B, H, q, 1)
  Var floor = arena_constant(g, {sigma_floor}, {1}, dt);
  a.sigma_sq = ops::add(g, ops::relu(g, ops::sub(g, ops::softplus(g, ops::linear(g, s, w.sigma)), floor)), floor);
  Var var = ops::add(g, a.sigma_sq, basis_var);                                          // (B, H, q, N)
  Var diff = ops::sub(g, a.mu, basis_mu);
  Var inv = ops::unary(g, UnaryOp::rsqrt, var);
  Var sq = ops::mul(g, ops::unary(g, UnaryOp::square, diff), ops::unary(g, UnaryOp::square, inv));
  Var expo = ops::unary(g, UnaryOp::exp, ops::scale(g, sq, -0.5f));
  Var r = ops::scale(g, ops::mul(g, expo, inv), static_cast<float>(1.0 / std::sqrt(2.0 * kPi)));
  Var ctx = ops::transpose12(g, ops::matmul(g, r, vh));                                  // (B, q, H, d)
  a.z = ops::linear(g, ops::reshape(g, ctx, {B, Tq, e}), w.out);
  Var ratio = ops::scale(g, a.sigma_sq, static_cast<float>(1.0 / (sigma0 * sigma0)));
  a.kl_terms = ops::sub(g, ratio, ops::unary(g, UnaryOp::log, ratio));
  const double count = static_cast<double>(B * H * Tq);
  a.kl = ops::add(g, ops::scale(g, ops::sum_all(g, a.kl_terms), static_cast<float>(0.5 / count)),
                  arena_constant(g, {-0.5}, {1}, dt));
  (void)N;
  return a;
}

}  // namespace weft::models::ltm
