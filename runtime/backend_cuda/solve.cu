// CUDA symmetric positive-definite solve by Cholesky, for small matrices solved once (n up to a few
// hundred, m up to a few thousand): correctness over speed. The loops are those of the CPU kernel
// (runtime/math/cholesky.h, same summation order), in float:
//   the factor: one block, column by column; thread 0 takes the pivot, the rows below it are split
//     over the block's threads;
//   the triangular solves: one thread per column of X, forward then backward substitution;
//   the gradient of A: one thread per lower-triangle entry.
// bf16 tensors are computed in float: the factor and the solution live in float scratch (the Exec's
// workspace) and are rounded once at the end. The factorisation reports a non-positive-definite matrix
// as the CPU does, so spd_solve_forward synchronizes once (it is not a step-loop kernel).
#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/kernels.h"
#include "runtime/math/cholesky.h"

namespace weft::cuda {

namespace {

constexpr int kFactorThreads = 256;
constexpr int kSolveThreads = 64;  // one column of X per thread: small blocks spread m columns over SMs

// First bytes of the workspace: the factorisation's verdict; float scratch follows.
struct FactorStatus {
  int64_t pivot;  // -1: positive definite, else the first failing pivot
  float value;    // that pivot's value
};
constexpr size_t kScratchOffset = 256;

// L (n, n) = the lower Cholesky factor of A's lower triangle (upper triangle zero), or a failing pivot
// in *status (L then partial).
template <class TA>
__global__ void __launch_bounds__(kFactorThreads)
    cholesky_factor_kernel(float* L, const TA* A, int64_t n, FactorStatus* status) {
  __shared__ float djj;
  __shared__ bool failed;
  for (int64_t i = threadIdx.x; i < n * n; i += blockDim.x) L[i] = 0.0f;
  __syncthreads();
  for (int64_t j = 0; j < n; ++j) {
    if (threadIdx.x == 0) {
      const float d = cholesky_residual(load(A, j * n + j), L, n, j, j);
      failed = !(d > 0.0f && isfinite(d));
      if (failed) {
        status->pivot = j;
        status->value = d;
      } else {
        djj = sqrtf(d);  // IEEE-rounded, as std::sqrt on the CPU
        L[j * n + j] = djj;
      }
    }
    __syncthreads();  // djj, failed and column j's pivot visible to the block
    if (failed) return;
    for (int64_t i = j + 1 + threadIdx.x; i < n; i += blockDim.x)
      L[i * n + j] = cholesky_residual(load(A, i * n + j), L, n, i, j) / djj;
    __syncthreads();  // column j complete before column j + 1 reads it (and before djj is rewritten)
  }
  if (threadIdx.x == 0) status->pivot = -1;
}

// X (n, m) = A^-1 src given A's factor L, one column per thread.
template <class TS, class TL>
__global__ void __launch_bounds__(kSolveThreads)
    cholesky_solve_kernel(float* X, const TS* src, const TL* L, int64_t n, int64_t m) {
  WEFT_CUDA_FOR(c, m) {
    for (int64_t i = 0; i < n; ++i) X[i * m + c] = load(src, i * m + c);
    cholesky_solve_column(X, L, n, m, c);
  }
}

// dst (count) = src rounded to T (the bf16 results of float scratch).
template <class T>
__global__ void store_kernel(T* dst, const float* src, int64_t count) {
  WEFT_CUDA_FOR(i, count) store(dst, i, src[i]);
}

// dB (n * m) += g.
template <class T>
__global__ void accumulate_kernel(T* dst, const float* g, int64_t count) {
  WEFT_CUDA_FOR(i, count) store(dst, i, load(dst, i) + g[i]);
}

// dA (lower triangle of (n, n)) += the gradient of A's lower triangle, g = A^-1 dX (n, m), X (n, m).
template <class T>
__global__ void spd_grad_a_kernel(T* dA, const float* g, const T* X, int64_t n, int64_t m) {
  WEFT_CUDA_FOR(idx, n * n) {
    const int64_t i = idx / n, j = idx % n;
    if (j <= i) store(dA, idx, load(dA, idx) + spd_solve_grad_entry(g, X, m, i, j));
  }
}

// The workspace with the float scratch it must hold beyond the status block.
char* workspace_for(Exec& ex, const char* kernel, int64_t scratch_floats, int64_t n, int64_t m) {
  const size_t need = kScratchOffset + static_cast<size_t>(scratch_floats) * sizeof(float);
  WEFT_CHECK(ex.workspace && ex.workspace_bytes >= need, "[cuda::", kernel, "] n = ", n, ", m = ", m, " needs ", need,
             " bytes of scratch but the Exec's workspace has ", ex.workspace_bytes);
  return static_cast<char*>(ex.workspace);
}

unsigned solve_blocks(int64_t m) { return blocks_for(m, kSolveThreads); }

}  // namespace

void spd_solve_forward(Exec& ex, DType dt, void* X, void* L, const void* A, const void* Bm, int64_t n, int64_t m) {
  if (n == 0) return;
  const bool f32 = dt == DType::f32;
  // bf16: the factor and the solution are computed in float scratch, then rounded.
  char* ws = workspace_for(ex, "spd_solve_forward", f32 ? 0 : n * n + n * m, n, m);
  auto* status = reinterpret_cast<FactorStatus*>(ws);
  float* Lf = f32 ? static_cast<float*>(L) : reinterpret_cast<float*>(ws + kScratchOffset);
  float* Xf = f32 ? static_cast<float*>(X) : Lf + n * n;
  dispatch_float(dt, "spd_solve_forward", [&](auto tag) {
    using T = decltype(tag);
    cholesky_factor_kernel<T><<<1, kFactorThreads, 0, stream_of(ex)>>>(Lf, static_cast<const T*>(A), n, status);
  });
  CUDA_CHECK_LAUNCH("spd_solve_forward");
  FactorStatus st{};
  CUDA_CHECK(cudaMemcpyAsync(&st, status, sizeof st, cudaMemcpyDeviceToHost, stream_of(ex)));
  CUDA_CHECK(cudaStreamSynchronize(stream_of(ex)));
  WEFT_CHECK(st.pivot < 0, "[spd_solve] matrix is not positive definite (pivot ", st.pivot, " = ",
             static_cast<double>(st.value), ")");
  dispatch_float(dt, "spd_solve_forward", [&](auto tag) {
    using T = decltype(tag);
    if (m > 0)
      cholesky_solve_kernel<T, float>
          <<<solve_blocks(m), kSolveThreads, 0, stream_of(ex)>>>(Xf, static_cast<const T*>(Bm), Lf, n, m);
    if constexpr (!std::is_same_v<T, float>) {
      store_kernel<<<blocks_for(n * n), kThreads, 0, stream_of(ex)>>>(static_cast<T*>(L), Lf, n * n);
      if (m > 0) store_kernel<<<blocks_for(n * m), kThreads, 0, stream_of(ex)>>>(static_cast<T*>(X), Xf, n * m);
    }
  });
  CUDA_CHECK_LAUNCH("spd_solve_forward");
}

void spd_solve_backward(Exec& ex, DType dt, void* dA, void* dB, const void* dX, const void* X, const void* L, int64_t n,
                        int64_t m) {
  if (n * m == 0 || (!dA && !dB)) return;  // m == 0: every gradient term is an empty sum
  char* ws = workspace_for(ex, "spd_solve_backward", n * m, n, m);
  float* g = reinterpret_cast<float*>(ws + kScratchOffset);  // g = A^-1 dX, the gradient w.r.t. B
  dispatch_float(dt, "spd_solve_backward", [&](auto tag) {
    using T = decltype(tag);
    cholesky_solve_kernel<T, T><<<solve_blocks(m), kSolveThreads, 0, stream_of(ex)>>>(g, static_cast<const T*>(dX),
                                                                                      static_cast<const T*>(L), n, m);
    if (dB) accumulate_kernel<<<blocks_for(n * m), kThreads, 0, stream_of(ex)>>>(static_cast<T*>(dB), g, n * m);
    if (dA)
      spd_grad_a_kernel<<<blocks_for(n * n), kThreads, 0, stream_of(ex)>>>(static_cast<T*>(dA), g,
                                                                           static_cast<const T*>(X), n, m);
  });
  CUDA_CHECK_LAUNCH("spd_solve_backward");
}

}  // namespace weft::cuda
