// CUDA pointwise kernels: unary activations, broadcasting binary ops (deterministic reduction for a
// broadcast operand's gradient), axpby, cast, SwiGLU, Philox dropout, strided block copy.
// Formulas come from runtime/math/*.h, the same code the CPU kernels run.
#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/kernels.h"

namespace weft::cuda {

namespace {

template <class T>
__global__ void unary_forward_kernel(UnaryOp op, T* y, const T* x, int64_t n) {
  WEFT_CUDA_FOR(i, n) store(y, i, unary_value<float>(op, load(x, i)));
}

template <class T>
__global__ void unary_backward_kernel(UnaryOp op, T* dx, const T* dy, const T* x, const T* y, int64_t n) {
  WEFT_CUDA_FOR(i, n) store(dx, i, load(dx, i) + load(dy, i) * unary_derivative<float>(op, load(x, i), load(y, i)));
}

template <class T>
__global__ void binary_forward_kernel(BinaryOp op, T* out, const T* a, const T* b, Broadcast bc, int64_t n) {
  WEFT_CUDA_FOR(i, n) {
    int64_t ia = i, ib = i;
    if (bc.rank) bc.offsets(i, ia, ib);
    store(out, i, binary_value<float>(op, load(a, ia), load(b, ib)));
  }
}

// Gradient of an operand that is NOT broadcast: one output element per operand element.
template <class T>
__global__ void binary_grad_full_kernel(BinaryOp op, bool wrt_a, T* d, const T* dout, const T* a, const T* b,
                                        Broadcast bc, int64_t n) {
  WEFT_CUDA_FOR(i, n) {
    int64_t ia = i, ib = i;
    if (bc.rank) bc.offsets(i, ia, ib);
    float av = load(a, ia), bv = load(b, ib);
    float g = load(dout, i) * (wrt_a ? binary_da<float>(op, av, bv) : binary_db<float>(op, av, bv));
    int64_t j = wrt_a ? ia : ib;
    store(d, j, load(d, j) + g);
  }
}

// The output elements that map to one element of a broadcast operand: its own ("kept") dims fix part of
// the output coordinate, the broadcast dims are looped over in order (deterministic sums).
struct ReducePlan {
  int n_kept = 0, n_bcast = 0;
  int64_t kept_size[6], kept_stride[6], bcast_size[6], bcast_stride[6];  // strides in output elements
  int64_t bcast_count = 1;
};

ReducePlan make_plan(const Broadcast& bc, bool wrt_a) {
  ReducePlan p;
  int64_t out_stride[6];
  int64_t s = 1;
  for (int d = bc.rank - 1; d >= 0; --d) {
    out_stride[d] = s;
    s *= bc.out[d];
  }
  for (int d = 0; d < bc.rank; ++d) {
    int64_t st = wrt_a ? bc.a_stride[d] : bc.b_stride[d];
    if (st != 0 || bc.out[d] == 1) {
      p.kept_size[p.n_kept] = bc.out[d];
      p.kept_stride[p.n_kept++] = out_stride[d];
    } else {
      p.bcast_size[p.n_bcast] = bc.out[d];
      p.bcast_stride[p.n_bcast++] = out_stride[d];
      p.bcast_count *= bc.out[d];
    }
  }
  return p;
}

template <class T>
__global__ void binary_grad_reduce_kernel(BinaryOp op, bool wrt_a, T* d, const T* dout, const T* a, const T* b,
                                          Broadcast bc, ReducePlan p, int64_t n_operand) {
  WEFT_CUDA_FOR(j, n_operand) {
    int64_t base = 0, rem = j;
    for (int k = p.n_kept - 1; k >= 0; --k) {
      base += (rem % p.kept_size[k]) * p.kept_stride[k];
      rem /= p.kept_size[k];
    }
    float acc = 0.0f;
    for (int64_t c = 0; c < p.bcast_count; ++c) {
      int64_t off = base, r = c;
      for (int k = p.n_bcast - 1; k >= 0; --k) {
        off += (r % p.bcast_size[k]) * p.bcast_stride[k];
        r /= p.bcast_size[k];
      }
      int64_t ia, ib;
      bc.offsets(off, ia, ib);
      float av = load(a, ia), bv = load(b, ib);
      acc += load(dout, off) * (wrt_a ? binary_da<float>(op, av, bv) : binary_db<float>(op, av, bv));
    }
    store(d, j, load(d, j) + acc);
  }
}

template <class T>
__global__ void axpby_kernel(T* y, float alpha, const T* x, float beta, int64_t n) {
  WEFT_CUDA_FOR(i, n) store(y, i, alpha * load(x, i) + (beta == 0.0f ? 0.0f : beta * load(y, i)));
}

template <class D, class S>
__global__ void cast_kernel(D* dst, const S* src, int64_t n, bool accumulate) {
  WEFT_CUDA_FOR(i, n) {
    float v = load(src, i);
    store(dst, i, accumulate ? load(dst, i) + v : v);
  }
}

template <class T>
__global__ void swiglu_forward_kernel(T* out, const T* x, int64_t N, int64_t F) {
  WEFT_CUDA_FOR(i, N * F) {
    int64_t r = i / F, f = i % F;
    float a = load(x, r * 2 * F + f), b = load(x, r * 2 * F + F + f);
    store(out, i, unary_value<float>(UnaryOp::silu, a) * b);
  }
}

template <class T>
__global__ void swiglu_backward_kernel(T* dx, const T* dout, const T* x, int64_t N, int64_t F) {
  WEFT_CUDA_FOR(i, N * F) {
    int64_t r = i / F, f = i % F, ia = r * 2 * F + f, ib = ia + F;
    float a = load(x, ia), b = load(x, ib), g = load(dout, i);
    float sa = unary_value<float>(UnaryOp::silu, a);
    store(dx, ia, load(dx, ia) + g * b * unary_derivative<float>(UnaryOp::silu, a, sa));
    store(dx, ib, load(dx, ib) + g * sa);
  }
}

template <class T>
__global__ void dropout_kernel(T* y, const T* x, int64_t n, float p, PhiloxKey key, uint32_t stream, uint64_t offset,
                               bool accumulate) {
  const float s = 1.0f / (1.0f - p);
  WEFT_CUDA_FOR(i, n) {
    bool keep = dropout_keep(philox_uniform(key, stream, offset, static_cast<uint64_t>(i)), p);
    float v = keep ? load(x, i) * s : 0.0f;
    store(y, i, accumulate ? load(y, i) + v : v);
  }
}

template <class T>
__global__ void copy2d_kernel(T* dst, int64_t dst_stride, const T* src, int64_t src_stride, int64_t rows, int64_t cols,
                              bool accumulate) {
  WEFT_CUDA_FOR(i, rows * cols) {
    int64_t r = i / cols, c = i % cols;
    float v = load(src, r * src_stride + c);
    store(dst, r * dst_stride + c, accumulate ? load(dst, r * dst_stride + c) + v : v);
  }
}

template <class F>
void dispatch_cast(DType dt, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); break;
    case DType::bf16: f(__nv_bfloat16{}); break;
    default: WEFT_FAIL("[cuda::cast] unsupported dtype ", dtype_name(dt), " (f32 and bf16 on CUDA)");
  }
}

}  // namespace

void unary_forward(Exec& ex, DType dt, UnaryOp op, void* y, const void* x, int64_t n) {
  dispatch_float(dt, "unary_forward", [&](auto tag) {
    using T = decltype(tag);
    unary_forward_kernel<<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(op, static_cast<T*>(y), static_cast<const T*>(x), n);
  });
  CUDA_CHECK_LAUNCH("unary_forward");
}

void unary_backward(Exec& ex, DType dt, UnaryOp op, void* dx, const void* dy, const void* x, const void* y, int64_t n) {
  dispatch_float(dt, "unary_backward", [&](auto tag) {
    using T = decltype(tag);
    unary_backward_kernel<<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(
        op, static_cast<T*>(dx), static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<const T*>(y), n);
  });
  CUDA_CHECK_LAUNCH("unary_backward");
}

void binary_forward(Exec& ex, DType dt, BinaryOp op, void* out, const void* a, const void* b, const Broadcast& bc,
                    int64_t n) {
  dispatch_float(dt, "binary_forward", [&](auto tag) {
    using T = decltype(tag);
    binary_forward_kernel<<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(
        op, static_cast<T*>(out), static_cast<const T*>(a), static_cast<const T*>(b), bc, n);
  });
  CUDA_CHECK_LAUNCH("binary_forward");
}

void binary_backward(Exec& ex, DType dt, BinaryOp op, void* da, void* db, const void* dout, const void* a,
                     const void* b, const Broadcast& bc, int64_t n, int64_t na, int64_t nb) {
  dispatch_float(dt, "binary_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *d = static_cast<const T*>(dout), *ap = static_cast<const T*>(a), *bp = static_cast<const T*>(b);
    for (int k = 0; k < 2; ++k) {
      bool wrt_a = k == 0;
      T* dst = static_cast<T*>(wrt_a ? da : db);
      int64_t count = wrt_a ? na : nb;
      if (!dst) continue;
      if (count == n)
        binary_grad_full_kernel<<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(op, wrt_a, dst, d, ap, bp, bc, n);
      else
        binary_grad_reduce_kernel<<<blocks_for(count), kThreads, 0, stream_of(ex)>>>(op, wrt_a, dst, d, ap, bp, bc,
                                                                                     make_plan(bc, wrt_a), count);
    }
  });
  CUDA_CHECK_LAUNCH("binary_backward");
}

void axpby(Exec& ex, DType dt, void* y, float alpha, const void* x, float beta, int64_t n) {
  dispatch_float(dt, "axpby", [&](auto tag) {
    using T = decltype(tag);
    axpby_kernel<<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(static_cast<T*>(y), alpha, static_cast<const T*>(x), beta, n);
  });
  CUDA_CHECK_LAUNCH("axpby");
}

void cast(Exec& ex, DType dst_dt, void* dst, DType src_dt, const void* src, int64_t n, bool accumulate) {
  dispatch_cast(dst_dt, [&](auto dtag) {
    using D = decltype(dtag);
    dispatch_cast(src_dt, [&](auto stag) {
      using S = decltype(stag);
      cast_kernel<<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(static_cast<D*>(dst), static_cast<const S*>(src), n,
                                                                 accumulate);
    });
  });
  CUDA_CHECK_LAUNCH("cast");
}

void swiglu_forward(Exec& ex, DType dt, void* out, const void* x, int64_t N, int64_t F) {
  dispatch_float(dt, "swiglu_forward", [&](auto tag) {
    using T = decltype(tag);
    swiglu_forward_kernel<<<blocks_for(N * F), kThreads, 0, stream_of(ex)>>>(static_cast<T*>(out),
                                                                              static_cast<const T*>(x), N, F);
  });
  CUDA_CHECK_LAUNCH("swiglu_forward");
}

void swiglu_backward(Exec& ex, DType dt, void* dx, const void* dout, const void* x, int64_t N, int64_t F) {
  dispatch_float(dt, "swiglu_backward", [&](auto tag) {
    using T = decltype(tag);
    swiglu_backward_kernel<<<blocks_for(N * F), kThreads, 0, stream_of(ex)>>>(
        static_cast<T*>(dx), static_cast<const T*>(dout), static_cast<const T*>(x), N, F);
  });
  CUDA_CHECK_LAUNCH("swiglu_backward");
}

void dropout_forward(Exec& ex, DType dt, void* y, const void* x, int64_t n, float p, PhiloxKey key, uint32_t stream,
                     uint64_t offset) {
  dispatch_float(dt, "dropout_forward", [&](auto tag) {
    using T = decltype(tag);
    dropout_kernel<<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(static_cast<T*>(y), static_cast<const T*>(x), n, p,
                                                                  key, stream, offset, false);
  });
  CUDA_CHECK_LAUNCH("dropout_forward");
}

void dropout_backward(Exec& ex, DType dt, void* dx, const void* dy, int64_t n, float p, PhiloxKey key, uint32_t stream,
                      uint64_t offset) {
  dispatch_float(dt, "dropout_backward", [&](auto tag) {
    using T = decltype(tag);
    dropout_kernel<<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(static_cast<T*>(dx), static_cast<const T*>(dy), n, p,
                                                                  key, stream, offset, true);
  });
  CUDA_CHECK_LAUNCH("dropout_backward");
}

void copy2d(Exec& ex, DType dt, void* dst, int64_t dst_stride, const void* src, int64_t src_stride, int64_t rows,
            int64_t cols, bool accumulate) {
  dispatch_float(dt, "copy2d", [&](auto tag) {
    using T = decltype(tag);
    copy2d_kernel<<<blocks_for(rows * cols), kThreads, 0, stream_of(ex)>>>(
        static_cast<T*>(dst), dst_stride, static_cast<const T*>(src), src_stride, rows, cols, accumulate);
  });
  CUDA_CHECK_LAUNCH("copy2d");
}

}  // namespace weft::cuda
