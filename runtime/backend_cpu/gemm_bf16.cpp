// bf16 GEMMs on the CPU (--dtype bf16 on the CPU, Exec::cpu_bf16_gemm): the f32 operands of cpu::gemm are
// rounded to bf16 (round to nearest even, as bf16::from_float) into scratch buffers, and oneDNN's matmul
// multiplies them on the CPU's bf16 units (AMX tiles, or AVX512-BF16) with f32 accumulation into the f32 C.
// The rounding pass reads each operand once; the product then runs at the bf16 rate (measured in
// docs/benchmarks.md). Matmul primitives are cached per thread by shape, transposes, alpha and beta. oneDNN's
// fast (brgemm) kernels want a dense C, so a C with padded rows is computed densely first, then scaled in.
#include <immintrin.h>
#include <omp.h>

#include <cstring>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/backend_cpu/gemm_library.h"
#include "runtime/check.h"
#include "runtime/dtype.h"

#ifdef WEFT_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace weft {

bool cpu_bf16_gemm_available(std::string* why) {
#ifdef WEFT_ONEDNN
  dnnl_set_max_cpu_isa(dnnl_cpu_isa_all);  // harmless after the first oneDNN call (gemm_library.cpp does the same)
  const unsigned isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  const unsigned bf16_isa = static_cast<unsigned>(dnnl_cpu_isa_avx512_core_bf16);
  if ((isa & bf16_isa) == bf16_isa) return true;  // AVX512-BF16; AMX's mask contains it
  if (why) *why = "oneDNN finds no bf16 instructions on this CPU (neither AVX512-BF16 nor AMX)";
  return false;
#else
  if (why) *why = "this weft was built without oneDNN (libdnnl-dev; WEFT_ONEDNN)";
  return false;
#endif
}

namespace cpu {

#ifdef WEFT_ONEDNN
namespace {

// dst (rows, cols), dense = src (rows, cols) with row stride ld, each element rounded to bf16 (nearest even; a
// NaN stays a quiet NaN): the portable form, for CPUs whose oneDNN has bf16 but whose compiler view lacks it.
void round_rows_to_bf16_portable(uint16_t* dst, const float* src, int64_t rows, int64_t cols, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[r * cols + c] = bf16::from_float(src[r * ld + c]).bits;
}

// The same with AVX512-BF16's VCVTNEPS2BF16 (round to nearest even, quiet NaNs), 16 floats per instruction;
// unlike bf16::from_float it reads f32 denormals (below 1.2e-38) as zero. Only called where the CPU has it.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void round_rows_to_bf16_avx512(
    uint16_t* dst, const float* src, int64_t rows, int64_t cols, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * ld;
    uint16_t* d = dst + r * cols;
    int64_t c = 0;
    for (; c + 16 <= cols; c += 16)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + c), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(s + c)));
    if (c < cols) {
      const __mmask16 tail = static_cast<__mmask16>((1u << (cols - c)) - 1u);
      _mm256_mask_storeu_epi16(d + c, tail, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(tail, s + c)));
    }
  }
}

void round_rows_to_bf16(uint16_t* dst, const float* src, int64_t rows, int64_t cols, int64_t ld) {
  static const bool has_avx512_bf16 = __builtin_cpu_supports("avx512bf16");
  if (has_avx512_bf16) return round_rows_to_bf16_avx512(dst, src, rows, cols, ld);
  round_rows_to_bf16_portable(dst, src, rows, cols, ld);
}

// The rounding of one operand, its rows split across the run's threads when there are enough of them.
void round_operand(Exec& ex, uint16_t* dst, const float* src, int64_t rows, int64_t cols, int64_t ld) {
  const int threads = threads_for(ex, rows * cols);
  if (threads <= 1) return round_rows_to_bf16(dst, src, rows, cols, ld);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), n = omp_get_num_threads();
    const int64_t r0 = rows * t / n, r1 = rows * (t + 1) / n;
    round_rows_to_bf16(dst + r0 * cols, src + r0 * ld, r1 - r0, cols, ld);
  }
}

struct Bf16Gemm {  // one cached product: C (M, N) dense f32 = alpha op(A) op(B) + beta C, A and B bf16
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
};

using Key = std::tuple<bool, bool, int64_t, int64_t, int64_t, float, float>;
struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = std::get<0>(k) * 2u + std::get<1>(k);
    for (int64_t v : {std::get<2>(k), std::get<3>(k), std::get<4>(k)}) h = h * 1000003u ^ static_cast<size_t>(v);
    uint32_t a, b;
    std::memcpy(&a, &std::get<5>(k), 4);
    std::memcpy(&b, &std::get<6>(k), 4);
    return (h * 1000003u ^ a) * 1000003u ^ b;
  }
};

struct Bf16Context {  // per thread: engine, stream, primitives and the rounded operands
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unordered_map<Key, Bf16Gemm, KeyHash> gemms;
  std::vector<uint16_t> a, b;
  std::vector<float> dense_c;
};

Bf16Context& context() {
  thread_local Bf16Context ctx;
  return ctx;
}

Bf16Gemm& cached_gemm(Bf16Context& ctx, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta) {
  const Key key{ta, tb, M, N, K, alpha, beta};
  auto it = ctx.gemms.find(key);
  if (it != ctx.gemms.end()) return it->second;
  using dnnl::memory;
  // op(A) (M, K) and op(B) (K, N) over the dense stored operands: a transposed operand is read by strides.
  const memory::desc a({M, K}, memory::data_type::bf16, ta ? memory::dims{1, M} : memory::dims{K, 1});
  const memory::desc b({K, N}, memory::data_type::bf16, tb ? memory::dims{1, K} : memory::dims{N, 1});
  const memory::desc c({M, N}, memory::data_type::f32, memory::dims{N, 1});
  dnnl::primitive_attr attr;
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (beta != 0.0f) {
    dnnl::post_ops ops;
    ops.append_sum(beta);
    attr.set_post_ops(ops);
  }
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, ctx.engine);
  return ctx.gemms.emplace(key, Bf16Gemm{pd, dnnl::matmul(pd)}).first->second;
}

}  // namespace
#endif

void sgemm_row_major_bf16(Exec& ex, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0)  // C = beta C (beta = 0 overwrites): the f32 path's scaling, no operand to round
    return sgemm_row_major(cpu_gemm(), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#ifdef WEFT_ONEDNN
  Bf16Context& ctx = context();
  const int64_t a_rows = ta ? K : M, a_cols = ta ? M : K, b_rows = tb ? N : K, b_cols = tb ? K : N;
  ctx.a.resize(static_cast<size_t>(a_rows * a_cols));
  ctx.b.resize(static_cast<size_t>(b_rows * b_cols));
  round_operand(ex, ctx.a.data(), A, a_rows, a_cols, lda);
  round_operand(ex, ctx.b.data(), B, b_rows, b_cols, ldb);
  const bool dense = ldc == N;  // else: the dense product first, then C = alpha P + beta C row by row
  float* out = C;
  if (!dense) {
    ctx.dense_c.resize(static_cast<size_t>(M * N));
    out = ctx.dense_c.data();
  }
  try {
    Bf16Gemm& g = cached_gemm(ctx, ta, tb, M, N, K, dense ? alpha : 1.0f, dense ? beta : 0.0f);
    dnnl::memory ma(g.pd.src_desc(), ctx.engine, ctx.a.data()), mb(g.pd.weights_desc(), ctx.engine, ctx.b.data()),
        mc(g.pd.dst_desc(), ctx.engine, out);
    g.prim.execute(ctx.stream, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
    ctx.stream.wait();
  } catch (const dnnl::error& e) {
    WEFT_FAIL("[cpu::gemm bf16] oneDNN matmul failed (", e.what(), ") for ", ta ? 'T' : 'N', tb ? 'T' : 'N', " M=", M,
              " N=", N, " K=", K);
  }
  if (!dense)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j)
        C[i * ldc + j] = alpha * out[i * N + j] + (beta == 0.0f ? 0.0f : beta * C[i * ldc + j]);
#else
  (void)ex, (void)ta, (void)tb, (void)alpha, (void)A, (void)lda, (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
  std::string why;
  cpu_bf16_gemm_available(&why);
  WEFT_FAIL("[cpu::gemm bf16] ", why);
#endif
}

}  // namespace cpu

}  // namespace weft
