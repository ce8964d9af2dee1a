// fp64 finite-difference gradient checker for ops and models.
// build() constructs the function under test from leaf Vars (one per input) and returns its outputs.
// The checker draws a random cotangent R_o for every output, so the objective is sum_o <R_o, out_o>,
// runs the tape once for analytic gradients, and compares them element by element with central
// differences (x +- eps). The error of an input is max_i |analytic_i - numeric_i| / max_i |numeric_i|.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "runtime/memory.h"
#include "runtime/ops/ops.h"

namespace weft::test {

struct GradInput {
  OwnedTensor value;          // f64 (or i32 for indices)
  bool differentiable = true; // false: constant (indices, fixed matrices)
};

using BuildFn = std::function<std::vector<Var>(Graph&, const std::vector<Var>&)>;

struct GradCheckResult {
  double max_rel_error = 0.0;  // worst over inputs
  std::string report;          // one line per input: "input 0 (3, 7): rel 2.1e-10 over 21 elements"
};

// Checks at most max_elements (randomly chosen) entries of every differentiable input.
GradCheckResult gradcheck(std::vector<GradInput>& inputs, const BuildFn& build, double eps = 1e-6,
                          int max_elements = 400, uint64_t seed = 1);

// Inputs: f64 uniform in [lo, hi); integer ids uniform in [0, hi).
OwnedTensor random_f64(Shape shape, uint64_t seed, double lo = -1.0, double hi = 1.0);
OwnedTensor random_ids(Shape shape, uint64_t seed, int32_t hi);
OwnedTensor random_f32(Shape shape, uint64_t seed, double lo = -1.0, double hi = 1.0);

// Fills a tensor on the host with the given values (f32/f64/i32).
OwnedTensor from_values(DType dt, Shape shape, const std::vector<double>& values);
std::vector<double> to_host_doubles(const Tensor& t);  // any device, any float/int dtype

// Runs f and returns the text of the weft::Error it throws ("" if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace weft::test
