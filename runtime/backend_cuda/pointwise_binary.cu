// CUDA broadcasting binary ops (add, sub, mul) and their backward. The Broadcast is first simplified on
// the host (size-1 dims dropped, neighbouring dims with the same pattern merged: (B, T, C) + (C) becomes
// (B*T, C)); equal shapes run a vectorised elementwise kernel, others index with 32-bit math when they
// fit. A broadcast operand's gradient is summed by the deterministic reduction of bcast_reduce.cuh.
#include "runtime/backend_cuda/bcast_reduce.cuh"
#include "runtime/kernels.h"

namespace weft::cuda {

namespace {

Broadcast simplify(const Broadcast& bc) {
  Broadcast s;
  s.rank = 0;
  for (int d = 0; d < bc.rank; ++d) {
    if (bc.out[d] == 1) continue;
    const int p = s.rank - 1;
    if (p >= 0 && s.a_stride[p] == bc.a_stride[d] * bc.out[d] && s.b_stride[p] == bc.b_stride[d] * bc.out[d]) {
      s.out[p] *= bc.out[d];  // dim d continues dim p for both operands
      s.a_stride[p] = bc.a_stride[d];
      s.b_stride[p] = bc.b_stride[d];
      continue;
    }
    s.out[s.rank] = bc.out[d];
    s.a_stride[s.rank] = bc.a_stride[d];
    s.b_stride[s.rank] = bc.b_stride[d];
    ++s.rank;
  }
  return s;
}

bool elementwise(const Broadcast& s) {
  return s.rank == 0 || (s.rank == 1 && s.a_stride[0] == 1 && s.b_stride[0] == 1);
}

template <class I>
__host__ __device__ __forceinline__ void offsets(const Broadcast& bc, I i, I& ia, I& ib) {
  ia = 0;
  ib = 0;
  for (int d = bc.rank - 1; d >= 0; --d) {
    const I n = static_cast<I>(bc.out[d]);
    const I c = i % n;
    i /= n;
    ia += c * static_cast<I>(bc.a_stride[d]);
    ib += c * static_cast<I>(bc.b_stride[d]);
  }
}

template <class T, int V>
__global__ void binary_same_kernel(BinaryOp op, T* out, const T* a, const T* b, int64_t n) {
  vec_for<V>(n, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    float av[W], bv[W], o[W];
    load_vec<W>(av, a, i);
    load_vec<W>(bv, b, i);
#pragma unroll
    for (int k = 0; k < W; ++k) o[k] = binary_value<float>(op, av[k], bv[k]);
    store_vec<W>(out, i, o);
  });
}

template <class T, class I>
__global__ void binary_bcast_kernel(BinaryOp op, T* out, const T* a, const T* b, Broadcast bc, int64_t n) {
  WEFT_CUDA_FOR(i, n) {
    I ia, ib;
    offsets<I>(bc, static_cast<I>(i), ia, ib);
    store(out, i, binary_value<float>(op, load(a, ia), load(b, ib)));
  }
}

// da, db (n) += dout * partials, equal shapes; either gradient may be null. add/sub never read a, b.
template <class T, int V>
__global__ void binary_grad_same_kernel(BinaryOp op, T* da, T* db, const T* dout, const T* a, const T* b, int64_t n) {
  vec_for<V>(n, [&](int64_t i, auto w) {
    constexpr int W = decltype(w)::value;
    float g[W], av[W], bv[W], acc[W];
    load_vec<W>(g, dout, i);
    if (op == BinaryOp::mul) {
      load_vec<W>(av, a, i);
      load_vec<W>(bv, b, i);
    } else {
#pragma unroll
      for (int k = 0; k < W; ++k) av[k] = bv[k] = 0.0f;
    }
    if (da) {
      load_vec<W>(acc, da, i);
#pragma unroll
      for (int k = 0; k < W; ++k) acc[k] += g[k] * binary_da<float>(op, av[k], bv[k]);
      store_vec<W>(da, i, acc);
    }
    if (db) {
      load_vec<W>(acc, db, i);
#pragma unroll
      for (int k = 0; k < W; ++k) acc[k] += g[k] * binary_db<float>(op, av[k], bv[k]);
      store_vec<W>(db, i, acc);
    }
  });
}

// Gradients of operands that are not broadcast (one output element per operand element), with the
// other operand broadcast; a null pointer skips that operand.
template <class T, class I>
__global__ void binary_grad_full_kernel(BinaryOp op, T* da, T* db, const T* dout, const T* a, const T* b, Broadcast bc,
                                        int64_t n) {
  WEFT_CUDA_FOR(i, n) {
    I ia, ib;
    offsets<I>(bc, static_cast<I>(i), ia, ib);
    const float g = load(dout, i);
    const float av = op == BinaryOp::mul ? load(a, ia) : 0.0f, bv = op == BinaryOp::mul ? load(b, ib) : 0.0f;
    if (da) store(da, ia, load(da, ia) + g * binary_da<float>(op, av, bv));
    if (db) store(db, ib, load(db, ib) + g * binary_db<float>(op, av, bv));
  }
}

// One term of a broadcast operand's gradient, at output offset off[0], a offset off[1], b offset off[2].
template <class T>
struct BinaryGradTerm {
  BinaryOp op;
  bool wrt_a;
  const T *dout, *a, *b;
  __host__ __device__ float operator()(const int64_t (&off)[3]) const {
    const float g = load(dout, off[0]);
    if (op != BinaryOp::mul) return wrt_a ? g : g * binary_db<float>(op, 0.0f, 0.0f);
    return g * (wrt_a ? load(b, off[2]) : load(a, off[1]));
  }
};

ReduceGeom grad_geom(const Broadcast& s, bool wrt_a) {
  int64_t strides[6][ReduceGeom::kSlots];
  bool reduced[6];
  int64_t out_stride = 1;
  for (int d = s.rank - 1; d >= 0; --d) {
    strides[d][0] = out_stride;
    strides[d][1] = s.a_stride[d];
    strides[d][2] = s.b_stride[d];
    reduced[d] = (wrt_a ? s.a_stride[d] : s.b_stride[d]) == 0;
    out_stride *= s.out[d];
  }
  return make_reduce_geom(s.rank, s.out, strides, reduced);
}

}  // namespace

void binary_forward(Exec& ex, DType dt, BinaryOp op, void* out, const void* a, const void* b, const Broadcast& bc,
                    int64_t n) {
  if (n == 0) return;
  const Broadcast s = simplify(bc);
  dispatch_float(dt, "binary_forward", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T *ap = static_cast<const T*>(a), *bp = static_cast<const T*>(b);
    if (elementwise(s)) {
      if (all_aligned(16, o, ap, bp))
        binary_same_kernel<T, kVec<T>><<<blocks_for(n / kVec<T>), kThreads, 0, stream_of(ex)>>>(op, o, ap, bp, n);
      else
        binary_same_kernel<T, 1><<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(op, o, ap, bp, n);
    } else if (n < (int64_t(1) << 31)) {
      binary_bcast_kernel<T, uint32_t><<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(op, o, ap, bp, s, n);
    } else {
      binary_bcast_kernel<T, int64_t><<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(op, o, ap, bp, s, n);
    }
  });
  CUDA_CHECK_LAUNCH("binary_forward");
}

void binary_backward(Exec& ex, DType dt, BinaryOp op, void* da, void* db, const void* dout, const void* a,
                     const void* b, const Broadcast& bc, int64_t n, int64_t na, int64_t nb) {
  if (n == 0 || (!da && !db)) return;
  const Broadcast s = simplify(bc);
  dispatch_float(dt, "binary_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *d = static_cast<const T*>(dout), *ap = static_cast<const T*>(a), *bp = static_cast<const T*>(b);
    T* dap = static_cast<T*>(da);
    T* dbp = static_cast<T*>(db);
    if (elementwise(s)) {
      if (all_aligned(16, dap, dbp, d, ap, bp))
        binary_grad_same_kernel<T, kVec<T>>
            <<<blocks_for(n / kVec<T>), kThreads, 0, stream_of(ex)>>>(op, dap, dbp, d, ap, bp, n);
      else
        binary_grad_same_kernel<T, 1><<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(op, dap, dbp, d, ap, bp, n);
      CUDA_CHECK_LAUNCH("binary_backward");
      return;
    }
    // Operands as large as the output get one term per element; broadcast ones are reduced.
    T* full_a = na == n ? dap : nullptr;
    T* full_b = nb == n ? dbp : nullptr;
    if (full_a || full_b) {
      if (n < (int64_t(1) << 31))
        binary_grad_full_kernel<T, uint32_t>
            <<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(op, full_a, full_b, d, ap, bp, s, n);
      else
        binary_grad_full_kernel<T, int64_t>
            <<<blocks_for(n), kThreads, 0, stream_of(ex)>>>(op, full_a, full_b, d, ap, bp, s, n);
      CUDA_CHECK_LAUNCH("binary_backward");
    }
    if (dap && !full_a)
      bcast_reduce(ex, "binary_backward", dap, BinaryGradTerm<T>{op, true, d, ap, bp}, grad_geom(s, true));
    if (dbp && !full_b)
      bcast_reduce(ex, "binary_backward", dbp, BinaryGradTerm<T>{op, false, d, ap, bp}, grad_geom(s, false));
  });
}

}  // namespace weft::cuda
