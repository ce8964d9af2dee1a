// CUDA decode attention, the twin of backend_cpu/decode_attention.cpp (sampling with a key/value cache):
// one thread block per (query, head, item) walks the keys its query sees in chunks of kChunk with an online
// softmax. Per chunk each thread scores one key (q . k_j over the head, q held in shared memory), the
// chunk's max updates the running max m (earlier sums rescaled by exp(m_old - m_new)), each thread turns
// its score into exp(s - m), and then each thread accumulates its channels of sum_j p_j v_j in key order.
// f32 and bf16 compute in float; every output element has one writer. Forward only.
#include <cmath>

#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/kernels.h"

namespace weft::cuda {

namespace {

constexpr int kChunk = 128;        // keys per chunk = threads per block
constexpr int kMaxHead = 512;      // head sizes up to kMaxHead (kMaxHead / kChunk channels per thread)
constexpr int kPerThread = kMaxHead / kChunk;

// q, out: (B, n, NH, HS); k_cache, v_cache: (R, L, NH, HS); rows, lengths: (B). Grid (n, NH, B).
template <class T>
__global__ void __launch_bounds__(kChunk)
    decode_attention_kernel(T* out, const T* q, const T* k_cache, const T* v_cache, const int32_t* rows,
                            const int32_t* lengths, int64_t n, int64_t L, int64_t NH, int64_t HS, float scale,
                            PositionBias bias) {
  __shared__ float qs[kMaxHead];
  __shared__ float ps[kChunk];  // scores of the chunk, then exp(score - m)
  __shared__ float chunk_max;
  const int64_t t = blockIdx.x, h = blockIdx.y, b = blockIdx.z, stride = NH * HS;
  const int64_t p = lengths[b] - n + t, first = bias.first_key(p);  // keys first .. p
  const int64_t qbase = ((b * n + t) * NH + h) * HS, kbase = int64_t(rows[b]) * L * stride + h * HS;
  const int tid = threadIdx.x;
  for (int64_t c = tid; c < HS; c += kChunk) qs[c] = to_compute(q[qbase + c]);
  __syncthreads();
  float m = -INFINITY, l = 0.0f, acc[kPerThread] = {};
  for (int64_t j0 = first; j0 <= p; j0 += kChunk) {
    const int nk = static_cast<int>(p + 1 - j0 < kChunk ? p + 1 - j0 : kChunk);
    if (tid < nk) {
      const T* krow = k_cache + kbase + (j0 + tid) * stride;
      float dot = 0.0f;
      for (int64_t c = 0; c < HS; ++c) dot += qs[c] * to_compute(krow[c]);
      ps[tid] = scale * dot + bias(h, p, j0 + tid);
    }
    __syncthreads();
    if (tid == 0) {
      float cm = ps[0];
      for (int j = 1; j < nk; ++j) cm = fmaxf(cm, ps[j]);
      chunk_max = cm;
    }
    __syncthreads();
    const float m_new = fmaxf(m, chunk_max), alpha = expf(m - m_new);  // exp(-inf) = 0 on the first chunk
    if (tid < nk) ps[tid] = expf(ps[tid] - m_new);
    __syncthreads();
    float sum = 0.0f;
    for (int j = 0; j < nk; ++j) sum += ps[j];
    l = l * alpha + sum;
    for (int r = 0; r < kPerThread; ++r) {
      const int64_t c = tid + int64_t(r) * kChunk;
      if (c >= HS) break;
      float a = acc[r] * alpha;
      for (int j = 0; j < nk; ++j) a += ps[j] * to_compute(v_cache[kbase + (j0 + j) * stride + c]);
      acc[r] = a;
    }
    m = m_new;
    __syncthreads();  // ps is rewritten by the next chunk
  }
  const float inv_l = 1.0f / l;
  for (int r = 0; r < kPerThread; ++r) {
    const int64_t c = tid + int64_t(r) * kChunk;
    if (c < HS) store(out, qbase + c, acc[r] * inv_l);
  }
}

}  // namespace

void decode_attention_forward(Exec& ex, DType dt, void* out, const void* q, const void* k_cache, const void* v_cache,
                              const int32_t* rows, const int32_t* lengths, int64_t B, int64_t n, int64_t L,
                              int64_t NH, int64_t HS, float scale, const PositionBias& bias) {
  if (B == 0 || n == 0 || NH == 0) return;
  WEFT_CHECK(HS <= kMaxHead, "[cuda::decode_attention_forward] head size ", HS, " exceeds ", kMaxHead);
  dispatch_float(dt, "decode_attention_forward", [&](auto tag) {
    using V = decltype(tag);
    decode_attention_kernel<V><<<dim3(static_cast<unsigned>(n), static_cast<unsigned>(NH), static_cast<unsigned>(B)),
                                 kChunk, 0, stream_of(ex)>>>(
        static_cast<V*>(out), static_cast<const V*>(q), static_cast<const V*>(k_cache), static_cast<const V*>(v_cache),
        rows, lengths, n, L, NH, HS, scale, bias);
    CUDA_CHECK_LAUNCH("decode_attention_forward");
  });
}

}  // namespace weft::cuda
