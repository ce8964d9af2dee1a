// The infinity-former's long-term memory (spec infinite-memory.md B.1-B.7) as host constants and graph pieces:
// the Gaussian RBF basis, the padded ridge-regression matrices G (host, float64, once per length), the sample
// positions of the contraction (uniform, or sticky: drawn from the previous call's attention density), the
// learned mask gate, the memory update and the continuous attention with its KL term. The model
// (infinite.cpp) strings them together per layer and segment; tests call them one by one against the PyTorch
// reference (tools/reference/infinite_reference.py). e = memory width (d-model), N basis functions, L new
// vectors, M samples of the old memory, H heads of d = e / H channels, q queries.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/math/philox.h"
#include "runtime/ops/ops.h"

namespace weft::models::ltm {

// ---- host constants (float64)
// B.1: N Gaussians, centre-major then width-minor: mu_n = (n div W) / (N/W - 1), sigma_n = widths[n mod W].
struct Basis {
  std::vector<double> mu, sigma;  // (N)
  int64_t size() const { return static_cast<int64_t>(mu.size()); }
};
Basis gaussian_basis(int64_t n_basis, const std::vector<double>& widths);
double normal_pdf(double t, double mu, double var);  // N(t; mu, var)
// psi_n(t) for every t: (t.size(), N) row-major.
std::vector<double> evaluate(const Basis& basis, const std::vector<double>& t);

// Regression positions: the real ones framed by zero-target pads; G keeps the rows of the real ones.
struct Design {
  std::vector<double> positions;  // pads < 0, real, pads > 1
  int64_t first_real = 0, n_real = 0;
};
// B.2, the first update of L vectors: (i + 0.5) / L, padded to [-0.5, 1.5] (2L points, 2L - 1 for odd L).
Design first_update_design(int64_t L);
// B.5, the update with M samples of the old memory: tau m / M (m = 1..M), tau + (1 - tau) j / L (j = 1..L),
// framed by the points < 0 and > 1 of linspace(-0.5 + s, 1.5 - s, 2 (L + M)), s = 1 / (2L + M) (the official
// shift, kept for parity).
Design contraction_design(int64_t M, int64_t L, double tau);
// G = rows [first_real, first_real + n_real) of F^T (F F^T + lambda I)^-1, F[n, j] = psi_n(t_j):
// (n_real, N) row-major, computed by a float64 Cholesky solve.
std::vector<double> ridge_matrix(const Basis& basis, const Design& design, double lambda);

// ---- sample positions of the old memory (B.5, B.6), in the old signal's coordinates
std::vector<double> uniform_samples(int64_t M);  // m / M, m = 1..M
// B.6: the attention mass of D bins (edges d / D, outer edges -1e-6 and 1 + 1e-6) summed over the n Gaussians
// N(mu_i, sigma_i^2) of the previous call (heads x queries), normalised: (D).
std::vector<double> sticky_bin_mass(const double* mu, const double* sigma, int64_t n, int64_t bins);
// M draws of a bin from `mass` with the Philox uniforms (key, stream, offset + m), each at its bin's left edge
// d / D, sorted ascending: (M).
std::vector<double> sticky_samples(const std::vector<double>& mass, int64_t M, PhiloxKey key, uint32_t stream,
                                   uint64_t offset);

// ---- graph pieces (weights are Vars, so tests can pass leaves)
struct Weights {
  Var key = nullptr, value = nullptr, out = nullptr;  // (e, e) nn.Linear layout, no bias
  Var mu = nullptr, sigma = nullptr;                 // (1, N)
  Var mask_w = nullptr, mask_b = nullptr;  // (e, 3, e) = Conv1d weight [out, tap, in] (torch's [out, in, tap] permuted), (e); null: no mask
};
// B.4: x (B, L, e) -> x * sigmoid(conv1d_3(x)) along time, zero padding 1.
Var mask_gate(Graph& g, const Weights& w, Var x);
// B.5: X_old = psi(u) coef_past: psi (B, M, N) constant, coef_past (B, N, e) -> (B, M, e).
Var sample_old(Graph& g, Var psi, Var coef_past);
// B.2 / B.5: coef = G^T [x_old; x_new]: x_old (B, M, e) or null, x_new (B, L, e), G (M + L, N) -> (B, N, e).
Var update(Graph& g, Var x_old, Var x_new, Var G);

struct Attention {
  Var z;         // (B, q, e): attn_out(concat_h V_h^T r)
  Var mu;        // (B, H, q, 1) sigmoid(s w_mu)
  Var sigma_sq;  // (B, H, q, 1) max(softplus(s w_sigma), floor)
  Var kl_terms;  // (B, H, q, 1) a - log(a), a = sigma^2 / sigma0^2: the KL is 1/2 (a - log a - 1)
  Var kl;        // (1) the KL's mean over (B, H, q)
};
// B.3 + B.7: q (B, q, H, d) (the STM query, unscaled), coef (B, N, e), basis_mu / basis_var (N) constants
// (sigma_n^2), r_n = N(mu; mu_n, sigma^2 + sigma_n^2) in closed form (its autodiff is the custom backward).
Attention attend(Graph& g, const Weights& w, Var q, Var coef, Var basis_mu, Var basis_var, double sigma_floor,
                 double sigma0);

// A constant of values on the graph's device in dtype dt, owned by the graph's arena (freed by g.clear()).
Var arena_constant(Graph& g, const std::vector<double>& values, Shape shape, DType dt);

}  // namespace weft::models::ltm
