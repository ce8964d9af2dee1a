// CPU-vs-CUDA parity harness.
// parity_check() builds the same function on the CPU (f32, the reference) and on the GPU (f32 or bf16)
// from the same inputs, seeds the same random output cotangents, and compares outputs and input
// gradients elementwise with |gpu - cpu| <= atol + rtol * |cpu|. Without a GPU, or when a kernel is
// still pending on CUDA, the calling test is reported SKIPPED (GTEST_SKIP), never passed.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/harness/gradcheck.h"

namespace weft::test {

struct Tolerance {
  double atol, rtol;
};
Tolerance default_tolerance(DType dt);  // f32: 1e-5 / 1e-4; bf16: 2e-2 / 2e-2

struct ParityInput {
  OwnedTensor value;  // f32 or i32, on the host
  bool differentiable = true;
};

// Returns "" when every output and gradient matches, else a description of the first mismatches.
// Throws SkipParity when the build has no CUDA, no GPU is visible, or a kernel is pending on CUDA.
std::string parity_compare(const std::vector<ParityInput>& inputs, const BuildFn& build, DType gpu_dtype,
                           Tolerance tol);

struct SkipParity {
  std::string reason;
};

}  // namespace weft::test

// Use inside a TEST: runs the comparison and reports skip / failure.
#define WEFT_PARITY(inputs, build, gpu_dtype, tol)                                         \
  do {                                                                                     \
    std::string weft_parity_msg;                                                           \
    try {                                                                                  \
      weft_parity_msg = ::weft::test::parity_compare(inputs, build, gpu_dtype, tol);        \
    } catch (const ::weft::test::SkipParity& s) {                                          \
      GTEST_SKIP() << s.reason;                                                            \
    }                                                                                      \
    EXPECT_EQ(weft_parity_msg, "");                                                        \
  } while (0)
