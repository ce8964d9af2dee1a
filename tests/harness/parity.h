// CPU-vs-CUDA parity harness.
// parity_check() builds the same function on the CPU (f32, the reference) and on the GPU (f32 or bf16)
// from the same inputs, seeds the same random output cotangents, and compares outputs and input
// gradients elementwise with |gpu - cpu| <= atol + rtol * |cpu|. Without a GPU, or when a kernel is
// still pending on CUDA, the calling test is reported SKIPPED (GTEST_SKIP), never passed.
// WEFT_PARITY_DRY_RUN=1 without a GPU: each case still runs its CPU half (the build, its backward), so a
// table's shapes are checked and its cases counted (one "[parity dry run]" line each on stderr), and the
// test goes on to its next case; it is still reported SKIPPED.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "runtime/exec.h"
#include "runtime/memory.h"
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
// Whose kernels the GPU side runs for the families cuDNN also implements (Exec::attention, Exec::norm).
struct GpuKernels {
  KernelBackend attention = KernelBackend::automatic, norm = KernelBackend::automatic;
};

// Throws SkipParity when the build has no CUDA, no GPU is visible, or a kernel is pending on CUDA.
std::string parity_compare(const std::vector<ParityInput>& inputs, const BuildFn& build, DType gpu_dtype,
                           Tolerance tol, GpuKernels kernels = {});

struct SkipParity {
  std::string reason;
  bool dry_run = false;  // the CPU half ran (WEFT_PARITY_DRY_RUN): skip, but go on to the next case
};

// GTEST_SKIP from a helper: marks the test skipped and returns to the caller, which continues.
inline void mark_skipped(const std::string& reason) { GTEST_SKIP() << reason; }

// Kernel-level parity fixture: a GPU Exec (the test is SKIPPED without a GPU, never passed), device copies
// of host vectors placed `shift` elements into a fresh allocation (shift 1 breaks 16-byte alignment, to
// reach the scalar fallbacks of vectorised kernels), and copies back after a stream synchronize.
class GpuKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device (or built without CUDA): parity not run";
    gpu_ = cuda::exec_create(0);
    created_ = true;
  }
  void TearDown() override {
    if (created_) cuda::exec_destroy(gpu_);
  }

  static std::vector<float> values(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
    OwnedTensor t = random_f32({n}, seed, lo, hi);
    return std::vector<float>(t.ptr<float>(), t.ptr<float>() + n);
  }
  template <class T>
  T* upload(const std::vector<T>& v, int shift = 1) {
    bufs_.emplace_back(Device::cuda, (v.size() + shift) * sizeof(T) + 1);
    T* p = static_cast<T*>(bufs_.back().data()) + shift;
    if (!v.empty()) device_copy(Device::cuda, p, Device::cpu, v.data(), v.size() * sizeof(T));
    return p;
  }
  template <class T>
  std::vector<T> download(const T* p, size_t n) {
    cuda::synchronize(gpu_);
    std::vector<T> v(n);
    if (n) device_copy(Device::cpu, v.data(), Device::cuda, p, n * sizeof(T));
    return v;
  }

  // Stops at the first element outside atol + rtol * |want| (one failure, not thousands).
  static void expect_all_near(const std::vector<float>& got, const std::vector<float>& want, double atol, double rtol,
                              const char* what = "") {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], atol + rtol * std::fabs(want[i])) << what << " element " << i;
  }

  Exec cpu_ = cpu_exec(1);
  Exec gpu_;
  bool created_ = false;
  std::vector<Buffer> bufs_;
};

}  // namespace weft::test

// Use inside a TEST: runs the comparison and reports skip / failure.
#define WEFT_PARITY(inputs, build, gpu_dtype, tol) \
  WEFT_PARITY_KERNELS(inputs, build, gpu_dtype, tol, ::weft::test::GpuKernels{})
// ... with the GPU's kernels chosen (a GpuKernels: cuDNN's or ours for attention and norms).
#define WEFT_PARITY_KERNELS(inputs, build, gpu_dtype, tol, kernels)                        \
  do {                                                                                     \
    std::string weft_parity_msg;                                                           \
    try {                                                                                  \
      weft_parity_msg = ::weft::test::parity_compare(inputs, build, gpu_dtype, tol, kernels); \
    } catch (const ::weft::test::SkipParity& s) {                                          \
      if (!s.dry_run) GTEST_SKIP() << s.reason;                                            \
      ::weft::test::mark_skipped(s.reason);                                                \
    }                                                                                      \
    EXPECT_EQ(weft_parity_msg, "");                                                        \
  } while (0)
