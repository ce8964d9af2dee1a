// CPU pointwise kernels: unary activations, broadcasting binary ops, axpby, cast, SwiGLU, dropout.
// Formulas come from runtime/math/pointwise.h and philox.h, shared with the CUDA backend.
#include <algorithm>
#include <cmath>

#include "runtime/backend_cpu/cpu_common.h"
#include "runtime/backend_cpu/vec.h"
#include "runtime/kernels.h"

namespace weft::cpu {

void unary_forward(Exec& ex, DType dt, UnaryOp op, void* y, const void* x, int64_t n) {
  dispatch_float(dt, "unary_forward", [&](auto tag) {
    using T = decltype(tag);
    T* yp = static_cast<T*>(y);
    const T* xp = static_cast<const T*>(x);
    if constexpr (std::is_same_v<T, float>) {
      if (op == UnaryOp::gelu_tanh) {  // the hot activation: vectorised exp
#pragma omp parallel for num_threads(threads_for(ex, n))
        for (int64_t c = 0; c < n; c += 4096) gelu_tanh_f32(yp + c, xp + c, std::min<int64_t>(4096, n - c));
        return;
      }
    }
#pragma omp parallel for num_threads(threads_for(ex, n))
    for (int64_t i = 0; i < n; ++i) yp[i] = unary_value<T>(op, xp[i]);
  });
}

void unary_backward(Exec& ex, DType dt, UnaryOp op, void* dx, const void* dy, const void* x, const void* y,
                    int64_t n, bool accumulate) {
  dispatch_float(dt, "unary_backward", [&](auto tag) {
    using T = decltype(tag);
    T* dxp = static_cast<T*>(dx);
    const T *dyp = static_cast<const T*>(dy), *xp = static_cast<const T*>(x), *yp = static_cast<const T*>(y);
    if constexpr (std::is_same_v<T, float>) {
      if (op == UnaryOp::gelu_tanh) {
#pragma omp parallel for num_threads(threads_for(ex, n))
        for (int64_t c = 0; c < n; c += 4096)
          gelu_tanh_backward_f32(dxp + c, dyp + c, xp + c, std::min<int64_t>(4096, n - c), accumulate);
        return;
      }
    }
#pragma omp parallel for num_threads(threads_for(ex, n))
    for (int64_t i = 0; i < n; ++i)
      dxp[i] = (accumulate ? dxp[i] : T(0)) + dyp[i] * unary_derivative<T>(op, xp[i], yp[i]);
  });
}

void binary_forward(Exec& ex, DType dt, BinaryOp op, void* out, const void* a, const void* b, const Broadcast& bc,
                    int64_t n) {
  dispatch_float(dt, "binary_forward", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T *ap = static_cast<const T*>(a), *bp = static_cast<const T*>(b);
    if (bc.rank == 0) {
#pragma omp parallel for num_threads(threads_for(ex, n))
      for (int64_t i = 0; i < n; ++i) o[i] = binary_value<T>(op, ap[i], bp[i]);
      return;
    }
    if (n == 0) return;
    // Row by row along the innermost dim: the index arithmetic once per row, then strides 0 or 1.
    const int64_t inner = bc.out[bc.rank - 1], sa = bc.a_stride[bc.rank - 1], sb = bc.b_stride[bc.rank - 1];
#pragma omp parallel for num_threads(threads_for(ex, n))
    for (int64_t r = 0; r < n / inner; ++r) {
      int64_t ia, ib;
      bc.offsets(r * inner, ia, ib);
      T* orow = o + r * inner;
      for (int64_t c = 0; c < inner; ++c) orow[c] = binary_value<T>(op, ap[ia + c * sa], bp[ib + c * sb]);
    }
  });
}

void binary_backward(Exec& ex, DType dt, BinaryOp op, void* da, void* db, const void* dout, const void* a,
                     const void* b, const Broadcast& bc, int64_t n, int64_t na, int64_t nb) {
  dispatch_float(dt, "binary_backward", [&](auto tag) {
    using T = decltype(tag);
    T *dap = static_cast<T*>(da), *dbp = static_cast<T*>(db);
    const T *d = static_cast<const T*>(dout), *ap = static_cast<const T*>(a), *bp = static_cast<const T*>(b);
    if (bc.rank == 0) {
#pragma omp parallel for num_threads(threads_for(ex, n))
      for (int64_t i = 0; i < n; ++i) {
        if (dap) dap[i] += d[i] * binary_da<T>(op, ap[i], bp[i]);
        if (dbp) dbp[i] += d[i] * binary_db<T>(op, ap[i], bp[i]);
      }
      return;
    }
    // An operand that is not broadcast (na == n) is written once per output element; a broadcast one
    // receives a sum, accumulated serially in output order so results do not depend on threads.
    if (n == 0) return;
    // Row by row along the innermost dim (index arithmetic once per row), in output order.
    bool a_full = na == n, b_full = nb == n;
    const int64_t inner = bc.out[bc.rank - 1], sa = bc.a_stride[bc.rank - 1], sb = bc.b_stride[bc.rank - 1];
    const int64_t rows = n / inner;
#pragma omp parallel for num_threads(threads_for(ex, n))
    for (int64_t r = 0; r < rows; ++r) {
      int64_t ia, ib;
      bc.offsets(r * inner, ia, ib);
      const T* drow = d + r * inner;
      for (int64_t c = 0; c < inner; ++c) {
        const int64_t ja = ia + c * sa, jb = ib + c * sb;
        if (dap && a_full) dap[ja] += drow[c] * binary_da<T>(op, ap[ja], bp[jb]);
        if (dbp && b_full) dbp[jb] += drow[c] * binary_db<T>(op, ap[ja], bp[jb]);
      }
    }
    if ((dap && !a_full) || (dbp && !b_full)) {
      for (int64_t r = 0; r < rows; ++r) {
        int64_t ia, ib;
        bc.offsets(r * inner, ia, ib);
        const T* drow = d + r * inner;
        for (int64_t c = 0; c < inner; ++c) {
          const int64_t ja = ia + c * sa, jb = ib + c * sb;
          if (dap && !a_full) dap[ja] += drow[c] * binary_da<T>(op, ap[ja], bp[jb]);
          if (dbp && !b_full) dbp[jb] += drow[c] * binary_db<T>(op, ap[ja], bp[jb]);
        }
      }
    }
  });
}

void axpby(Exec& ex, DType dt, void* y, float alpha, const void* x, float beta, int64_t n) {
  dispatch_float(dt, "axpby", [&](auto tag) {
    using T = decltype(tag);
    T* yp = static_cast<T*>(y);
    const T* xp = static_cast<const T*>(x);
    const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
    if (beta == 0.0f) {
#pragma omp parallel for num_threads(threads_for(ex, n))
      for (int64_t i = 0; i < n; ++i) yp[i] = a * xp[i];
    } else {
#pragma omp parallel for num_threads(threads_for(ex, n))
      for (int64_t i = 0; i < n; ++i) yp[i] = a * xp[i] + b * yp[i];
    }
  });
}

namespace {
template <class T>
double load_as_double(const void* p, int64_t i) {
  if constexpr (std::is_same_v<T, bf16>)
    return static_cast<const bf16*>(p)[i].to_float();
  else
    return static_cast<double>(static_cast<const T*>(p)[i]);
}
template <class T>
void store_from_double(void* p, int64_t i, double v) {
  if constexpr (std::is_same_v<T, bf16>)
    static_cast<bf16*>(p)[i] = bf16::from_float(static_cast<float>(v));
  else
    static_cast<T*>(p)[i] = static_cast<T>(v);
}
template <class F>
void dispatch_any_float(DType dt, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); break;
    case DType::f64: f(double{}); break;
    case DType::bf16: f(bf16{}); break;
    default: WEFT_FAIL("[cpu::cast] unsupported dtype ", dtype_name(dt));
  }
}
}  // namespace

void cast(Exec& ex, DType dst_dt, void* dst, DType src_dt, const void* src, int64_t n, bool accumulate) {
  dispatch_any_float(dst_dt, [&](auto dtag) {
    using D = decltype(dtag);
    dispatch_any_float(src_dt, [&](auto stag) {
      using S = decltype(stag);
#pragma omp parallel for num_threads(threads_for(ex, n))
      for (int64_t i = 0; i < n; ++i) {
        double v = load_as_double<S>(src, i);
        if (accumulate) v += load_as_double<D>(dst, i);
        store_from_double<D>(dst, i, v);
      }
    });
  });
}

void swiglu_forward(Exec& ex, DType dt, void* out, const void* x, int64_t N, int64_t F) {
  dispatch_float(dt, "swiglu_forward", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T* xp = static_cast<const T*>(x);
#pragma omp parallel for num_threads(threads_for(ex, N * F))
    for (int64_t r = 0; r < N; ++r)
      for (int64_t f = 0; f < F; ++f) {
        T a = xp[r * 2 * F + f], b = xp[r * 2 * F + F + f];
        o[r * F + f] = unary_value<T>(UnaryOp::silu, a) * b;
      }
  });
}

void swiglu_backward(Exec& ex, DType dt, void* dx, const void* dout, const void* x, int64_t N, int64_t F) {
  dispatch_float(dt, "swiglu_backward", [&](auto tag) {
    using T = decltype(tag);
    T* dxp = static_cast<T*>(dx);
    const T *d = static_cast<const T*>(dout), *xp = static_cast<const T*>(x);
#pragma omp parallel for num_threads(threads_for(ex, N * F))
    for (int64_t r = 0; r < N; ++r)
      for (int64_t f = 0; f < F; ++f) {
        T a = xp[r * 2 * F + f], b = xp[r * 2 * F + F + f], g = d[r * F + f];
        T sa = unary_value<T>(UnaryOp::silu, a);
        dxp[r * 2 * F + f] += g * b * unary_derivative<T>(UnaryOp::silu, a, sa);
        dxp[r * 2 * F + F + f] += g * sa;
      }
  });
}

void dropout_forward(Exec& ex, DType dt, void* y, const void* x, int64_t n, float p, PhiloxKey key,
                     uint32_t stream, uint64_t offset) {
  dispatch_float(dt, "dropout_forward", [&](auto tag) {
    using T = decltype(tag);
    T* yp = static_cast<T*>(y);
    const T* xp = static_cast<const T*>(x);
    const T s = T(1) / (T(1) - T(p));
#pragma omp parallel for num_threads(threads_for(ex, n))
    for (int64_t i = 0; i < n; ++i)
      yp[i] = dropout_keep(philox_uniform(key, stream, offset, i), p) ? xp[i] * s : T(0);
  });
}

void dropout_backward(Exec& ex, DType dt, void* dx, const void* dy, int64_t n, float p, PhiloxKey key,
                      uint32_t stream, uint64_t offset) {
  dispatch_float(dt, "dropout_backward", [&](auto tag) {
    using T = decltype(tag);
    T* dxp = static_cast<T*>(dx);
    const T* dyp = static_cast<const T*>(dy);
    const T s = T(1) / (T(1) - T(p));
#pragma omp parallel for num_threads(threads_for(ex, n))
    for (int64_t i = 0; i < n; ++i)
      if (dropout_keep(philox_uniform(key, stream, offset, i), p)) dxp[i] += dyp[i] * s;
  });
}

}  // namespace weft::cpu
