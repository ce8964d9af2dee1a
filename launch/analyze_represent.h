// Representation accuracy (spec ../shared/specs/masked-mixer.md A.9): how well a model's last-block output
// determines its input. For token sequences t (B, T) with embeddings e = E[t] (E the token embedding, no
// positions: a family that adds positions adds them inside Model::blocks_from_embeddings, as Llama's layers
// apply RoPE), f = every block (no final norm, no head) and the target y = f(e):
//   a_0 ~ N(0, I)                                   (B, T, C), Philox, one stream per sample
//   a_{i+1} = a_i - eta_i d/da sum |y - f(a_i)|     i = 0..K-1, eta_i = 0.02 (K-i)/K + 0.002 i/K, weights frozen
//   P = pinv(E) (C, V), float64;  ref = argmax((e + 0.05 N(0, I)) P);  rec = top-5 of a_K P   per position
//   Hamming = #{ref != pad, ref not in rec} / #{ref != pad}
// Samples are independent (the loss is a sum over them and no family mixes batch rows), so optimising B of
// them in one batch gives the same a_K as one at a time; sample s draws a_0 from stream 2s and the reference
// noise from stream 2s + 1 of `seed`, whatever the batching. The parameter gradients the tape accumulates
// along the way are discarded (the store's gradients are zeroed before returning).
#pragma once

#include <cstdint>
#include <vector>

#include "models/model.h"
#include "runtime/exec.h"
#include "runtime/param_store.h"

namespace weft::launch {

struct RepresentOptions {
  int64_t steps = 500;       // K
  double eta_start = 0.02;   // eta_0
  double eta_end = 0.002;    // eta_K
  double ref_noise = 0.05;   // std of the noise added to e before the reference projection
  int64_t top_k = 5;         // rec: the k best tokens per position
  uint64_t seed = 1;         // a_0 and the reference noise
};

// Moore-Penrose pseudo-inverse of E (V, C) row-major with full column rank: P = (E^T E)^-1 E^T (C, V)
// row-major, in float64 through a Cholesky factorisation of E^T E. Throws weft::Error when V < C or E^T E is
// numerically singular (column rank < C).
std::vector<double> pseudo_inverse(const std::vector<double>& E, int64_t V, int64_t C);

// The k highest-scoring tokens of each row of x P, best first (ties: the lower id): x (N, C), P (C, V)
// -> (N, k).
std::vector<int32_t> top_tokens(const std::vector<double>& x, int64_t N, const std::vector<double>& P, int64_t C,
                                int64_t V, int64_t k);

struct HammingCount {
  int64_t misses = 0;     // positions whose ref is not pad and not among the recovered k
  int64_t positions = 0;  // positions whose ref is not pad
  double rate() const { return positions > 0 ? static_cast<double>(misses) / static_cast<double>(positions) : 0.0; }
  HammingCount& operator+=(const HammingCount& o) {
    misses += o.misses;
    positions += o.positions;
    return *this;
  }
};

// ref (N), rec (N, k).
HammingCount hamming(const std::vector<int32_t>& ref, const std::vector<int32_t>& rec, int64_t k, int32_t pad);

// A model's token embedding matrix and its pseudo-inverse, computed once per checkpoint.
struct EmbeddingInverse {
  int64_t V = 0, C = 0;
  std::vector<double> E;  // (V, C)
  std::vector<double> P;  // (C, V)
};
EmbeddingInverse embedding_inverse(const models::Model& model, const ParamStore& store);

struct RepresentResult {
  HammingCount count;
  int64_t samples = 0;
  double l1_start = 0.0, l1_end = 0.0;  // sum |y - f(a)| at a_0 and at a_K
  int64_t elements = 0;                 // B T C: l1_* / elements is the mean per element
  RepresentResult& operator+=(const RepresentResult& o) {
    count += o.count;
    samples += o.samples;
    l1_start += o.l1_start;
    l1_end += o.l1_end;
    elements += o.elements;
    return *this;
  }
};

// The experiment on `B` sequences ids (B, T) (already truncated / padded with `pad`), which are samples
// first_sample .. first_sample + B - 1 of the run (their random streams). The model runs on `ex` in the
// store's dtype (f32 for the spec, f64 in tests).
RepresentResult represent_batch(models::Model& model, ParamStore& store, Exec& ex, const EmbeddingInverse& inv,
                                const std::vector<int32_t>& ids, int64_t B, int64_t T, int32_t pad,
                                int64_t first_sample, const RepresentOptions& opt);

}  // namespace weft::launch
