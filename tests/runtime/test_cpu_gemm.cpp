// cpu::gemm on every f32 GEMM library this build has (runtime/cpu_gemm.h: oneDNN, OpenBLAS), computed on this
// CPU by the kernels the library picks here, against an f64 reference: every transpose family (NN, NT, TN,
// TT), odd sizes (1, 7, 33, 257, ~1000), alpha != 1, beta 0 (C full of NaN: overwritten), 1 and -0.5, padded
// leading dimensions (the padding must stay untouched) and batches with strides, shared B included, as the
// ops call it. The f64 path (OpenBLAS, the gradient checks) is checked the same way, and the bf16 path of
// --dtype bf16 on the CPU (Exec::cpu_bf16_gemm) against the f64 product of the bf16-rounded operands with
// the f32 tolerance: an operand left unrounded (or rounded another way) is off by ~2^-9 and fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/check.h"
#include "runtime/cpu_gemm.h"
#include "runtime/exec.h"
#include "runtime/kernels.h"

namespace weft {
namespace {

struct Dims {
  int64_t M, N, K;
};
// Each size of the list in every position, at most ~21M multiply-adds a product (the f64 reference is naive);
// {520, 40, 1030} as TN is a tall, narrow A^T B, which the oneDNN path computes transposed (gemm_library.cpp).
const Dims kDims[] = {{1, 1, 1},      {1, 7, 33},      {7, 1, 257},    {33, 257, 7},   {257, 33, 1},
                      {1000, 33, 257}, {257, 1000, 33}, {33, 257, 1000}, {1000, 1000, 7}, {7, 1, 1000},
                      {1, 1000, 1000}, {257, 257, 129}, {64, 48, 768}, {520, 40, 1030}};

uint32_t g_state = 12345;
double next_uniform() {  // [-1, 1)
  g_state = g_state * 1664525u + 1013904223u;
  return static_cast<double>(g_state >> 8) / static_cast<double>(1u << 23) - 1.0;
}

// One cpu::gemm call of `batch` products with padded leading dimensions and strides, in T, checked against
// the same products in double; returns the number of elements outside tolerance (and prints the first few).
template <class T>
int check_gemm(bool ta, bool tb, Dims d, float alpha, float beta, int64_t batch, bool shared_b, bool bf16_gemm = false) {
  const int64_t M = d.M, N = d.N, K = d.K;
  const int64_t a_rows = ta ? K : M, a_cols = ta ? M : K;  // A as stored: op(A) is (M, K)
  const int64_t b_rows = tb ? N : K, b_cols = tb ? K : N;  // op(B) is (K, N)
  const int64_t lda = a_cols + 3, ldb = b_cols + 5, ldc = N + 2;
  const int64_t stride_a = a_rows * lda + 11, stride_b = shared_b ? 0 : b_rows * ldb + 7, stride_c = M * ldc + 13;
  std::vector<T> A(static_cast<size_t>(stride_a * batch)), B(static_cast<size_t>(shared_b ? b_rows * ldb : stride_b * batch));
  std::vector<T> C(static_cast<size_t>(stride_c * batch));
  for (T& x : A) x = static_cast<T>(next_uniform());
  for (T& x : B) x = static_cast<T>(next_uniform());
  const T sentinel = static_cast<T>(1234.5);
  for (T& x : C) x = beta == 0.0f ? std::numeric_limits<T>::quiet_NaN() : static_cast<T>(next_uniform());
  // The padding (columns N .. ldc - 1 of each row, the gap after each item) holds the sentinel.
  std::vector<bool> inside(C.size(), false);
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < N; ++c) inside[static_cast<size_t>(i * stride_c + r * ldc + c)] = true;
  for (size_t k = 0; k < C.size(); ++k)
    if (!inside[k]) C[k] = sentinel;
  const std::vector<T> C0 = C;

  Exec ex = cpu_exec();
  ex.cpu_bf16_gemm = bf16_gemm;
  cpu::gemm(ex, std::is_same_v<T, float> ? DType::f32 : DType::f64, ta, tb, M, N, K, alpha, A.data(), lda, stride_a,
            B.data(), ldb, stride_b, beta, C.data(), ldc, stride_c, batch);

  // Error bound of a sum of K products in T: (K + 2) u (|alpha| sum |a b| + |beta c|), doubled for the
  // libraries' blocked sums; a wrong operand, transpose or stride is off by O(the magnitude) instead.
  const double u = std::is_same_v<T, float> ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
  int bad = 0;
  for (int64_t i = 0; i < batch; ++i) {
    const T* a = A.data() + i * stride_a;
    const T* b = B.data() + i * stride_b;
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < N; ++c) {
        double sum = 0.0, magnitude = 0.0;
        for (int64_t k = 0; k < K; ++k) {
          double x = ta ? a[k * lda + r] : a[r * lda + k];
          double y = tb ? b[c * ldb + k] : b[k * ldb + c];
          if (bf16_gemm) {  // the operands the bf16 path multiplies; their products are exact in f32
            x = bf16::from_float(static_cast<float>(x)).to_float();
            y = bf16::from_float(static_cast<float>(y)).to_float();
          }
          sum += x * y;
          magnitude += std::fabs(x * y);
        }
        const size_t at = static_cast<size_t>(i * stride_c + r * ldc + c);
        const double c0 = beta == 0.0f ? 0.0 : static_cast<double>(C0[at]);
        const double ref = alpha * sum + beta * c0;
        const double tol = 2.0 * (K + 2) * u * (std::fabs(alpha) * magnitude + std::fabs(beta * c0)) + 1e-30;
        const double got = C[at];
        if (!(std::fabs(got - ref) <= tol) && bad++ < 3)
          ADD_FAILURE() << "item " << i << " C[" << r << ", " << c << "] = " << got << ", reference " << ref
                        << " (tolerance " << tol << ")";
      }
  }
  for (size_t k = 0; k < C.size(); ++k)
    if (!inside[k] && !(C[k] == sentinel) && bad++ < 3) ADD_FAILURE() << "padding element " << k << " overwritten";
  return bad;
}

std::vector<CpuGemm> available_libraries() {
  std::vector<CpuGemm> libs;
  for (CpuGemm lib : {CpuGemm::openblas, CpuGemm::onednn})
    if (cpu_gemm_available(lib)) libs.push_back(lib);
  return libs;
}

class CpuGemmTest : public ::testing::Test {
 protected:
  void TearDown() override { set_cpu_gemm(CpuGemm::auto_select); }
};

TEST_F(CpuGemmTest, EveryTransposeAndSizeAgainstDouble) {
  for (CpuGemm lib : available_libraries()) {
    set_cpu_gemm(lib);
    ASSERT_EQ(cpu_gemm(), lib);
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      for (const Dims& d : kDims)
        for (float beta : {0.0f, 1.0f, -0.5f}) {
          SCOPED_TRACE(std::string(cpu_gemm_description(lib)) + (ta ? " T" : " N") + (tb ? "T" : "N") + " M=" +
                       std::to_string(d.M) + " N=" + std::to_string(d.N) + " K=" + std::to_string(d.K) +
                       " beta=" + std::to_string(beta));
          ASSERT_EQ(check_gemm<float>(ta, tb, d, 0.75f, beta, 1, false), 0);
        }
    }
  }
}

TEST_F(CpuGemmTest, BatchesWithStridesAndSharedB) {
  for (CpuGemm lib : available_libraries()) {
    set_cpu_gemm(lib);
    for (int t = 0; t < 4; ++t)
      for (bool shared_b : {false, true}) {
        const bool ta = t & 1, tb = t & 2;
        SCOPED_TRACE(std::string(cpu_gemm_name(lib)) + (ta ? " T" : " N") + (tb ? "T" : "N") +
                     (shared_b ? " shared B" : ""));
        EXPECT_EQ(check_gemm<float>(ta, tb, {33, 7, 65}, -1.25f, 1.0f, 3, shared_b), 0);
        EXPECT_EQ(check_gemm<float>(ta, tb, {1, 257, 64}, 0.125f, 0.0f, 4, shared_b), 0);
      }
  }
}

TEST_F(CpuGemmTest, EmptyReductionScalesC) {  // K = 0: C = beta C, and beta = 0 clears NaNs
  for (CpuGemm lib : available_libraries()) {
    set_cpu_gemm(lib);
    for (float beta : {0.0f, 1.0f, -0.5f}) {
      SCOPED_TRACE(std::string(cpu_gemm_name(lib)) + " beta=" + std::to_string(beta));
      EXPECT_EQ(check_gemm<float>(false, true, {7, 33, 0}, 1.0f, beta, 2, false), 0);
    }
  }
}

TEST_F(CpuGemmTest, DoubleOnOpenBlasWhateverTheF32Library) {
  for (CpuGemm lib : available_libraries()) {
    set_cpu_gemm(lib);
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      SCOPED_TRACE(std::string(cpu_gemm_name(lib)) + (ta ? " T" : " N") + (tb ? "T" : "N"));
      EXPECT_EQ(check_gemm<double>(ta, tb, {33, 257, 129}, 0.75f, -0.5f, 2, false), 0);
      EXPECT_EQ(check_gemm<double>(ta, tb, {1, 7, 1000}, 0.75f, 0.0f, 1, false), 0);
    }
  }
}

// --dtype bf16 on the CPU: every transpose family, odd sizes, alpha/beta, padded C rows, batches.
TEST_F(CpuGemmTest, Bf16OperandsWithF32AccumulationEveryTransposeAndSize) {
  std::string why;
  if (!cpu_bf16_gemm_available(&why)) GTEST_SKIP() << "bf16 GEMMs not available here: " << why;
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    for (const Dims& d : kDims)
      for (float beta : {0.0f, 1.0f, -0.5f}) {
        SCOPED_TRACE(std::string("bf16") + (ta ? " T" : " N") + (tb ? "T" : "N") + " M=" + std::to_string(d.M) +
                     " N=" + std::to_string(d.N) + " K=" + std::to_string(d.K) + " beta=" + std::to_string(beta));
        ASSERT_EQ(check_gemm<float>(ta, tb, d, 0.75f, beta, 1, false, true), 0);
      }
    for (bool shared_b : {false, true}) EXPECT_EQ(check_gemm<float>(ta, tb, {33, 7, 65}, -1.25f, 1.0f, 3, shared_b, true), 0);
    EXPECT_EQ(check_gemm<float>(ta, tb, {7, 33, 0}, 1.0f, -0.5f, 2, false, true), 0);  // K = 0
  }
}

TEST_F(CpuGemmTest, SelectionAndNames) {
  EXPECT_EQ(parse_cpu_gemm("auto"), CpuGemm::auto_select);
  EXPECT_EQ(parse_cpu_gemm("onednn"), CpuGemm::onednn);
  EXPECT_EQ(parse_cpu_gemm("openblas"), CpuGemm::openblas);
  EXPECT_THROW(parse_cpu_gemm("mkl"), weft::Error);
  set_cpu_gemm(CpuGemm::auto_select);
  const CpuGemm chosen = cpu_gemm();
  EXPECT_NE(chosen, CpuGemm::auto_select);
  // The rule: oneDNN where built and the CPU has AVX2 (its JIT kernels cover it), OpenBLAS otherwise.
  const bool wide = __builtin_cpu_supports("avx2");
  EXPECT_EQ(chosen, cpu_gemm_available(CpuGemm::onednn) && wide ? CpuGemm::onednn : CpuGemm::openblas);
  for (CpuGemm lib : available_libraries()) {
    const std::string text = cpu_gemm_description(lib);
    EXPECT_EQ(text.rfind(cpu_gemm_name(lib), 0), 0u) << text;
    std::printf("%s\n", text.c_str());  // the kernels this CPU runs, for the test log
  }
  if (!cpu_gemm_available(CpuGemm::onednn)) {
    EXPECT_THROW(set_cpu_gemm(CpuGemm::onednn), weft::Error);
  }
}

}  // namespace
}  // namespace weft
