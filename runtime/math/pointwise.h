// Per-element formulas shared by the CPU and CUDA backends: forward value and derivative of every
// unary op, in the compute type T (float or double; bf16 is computed in float).
// Derivatives take both x and y = f(x), whichever is cheaper for the op.
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/math/hd.h"

namespace weft {

enum class UnaryOp : uint8_t {
  relu, gelu_tanh, gelu_erf, silu, sigmoid, softplus, tanh, exp, log, square, rsqrt, count
};

inline constexpr const char* unary_name(UnaryOp op) {
  constexpr const char* names[] = {"relu", "gelu_tanh", "gelu_erf", "silu",   "sigmoid", "softplus",
                                   "tanh", "exp",       "log",      "square", "rsqrt"};
  return names[static_cast<int>(op)];
}

template <class T>
WEFT_HD T sigmoid_of(T x) {
  return T(1) / (T(1) + exp(-x));
}

template <class T>
WEFT_HD T softplus_of(T x) {  // log(1 + e^x) without overflow
  return x > T(20) ? x : log1p(exp(x));
}

template <class T>
WEFT_HD T unary_value(UnaryOp op, T x) {
  using std::erf, std::exp, std::log, std::log1p, std::sqrt, std::tanh;
  const T k_sqrt_2_over_pi = T(0.7978845608028654), k_inv_sqrt2 = T(0.7071067811865476);
  switch (op) {
    case UnaryOp::relu: return x > T(0) ? x : T(0);
    case UnaryOp::gelu_tanh: {
      T u = k_sqrt_2_over_pi * (x + T(0.044715) * x * x * x);
      return T(0.5) * x * (T(1) + tanh(u));
    }
    case UnaryOp::gelu_erf: return T(0.5) * x * (T(1) + erf(x * k_inv_sqrt2));
    case UnaryOp::silu: return x * sigmoid_of(x);
    case UnaryOp::sigmoid: return sigmoid_of(x);
    case UnaryOp::softplus: return softplus_of(x);
    case UnaryOp::tanh: return tanh(x);
    case UnaryOp::exp: return exp(x);
    case UnaryOp::log: return log(x);
    case UnaryOp::square: return x * x;
    case UnaryOp::rsqrt: return T(1) / sqrt(x);
    default: return x;
  }
}

// d f(x) / dx given x and y = f(x).
template <class T>
WEFT_HD T unary_derivative(UnaryOp op, T x, T y) {
  using std::erf, std::exp, std::sqrt, std::tanh;
  const T k_sqrt_2_over_pi = T(0.7978845608028654), k_inv_sqrt2 = T(0.7071067811865476);
  const T k_inv_sqrt_2pi = T(0.3989422804014327);
  switch (op) {
    case UnaryOp::relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::gelu_tanh: {
      T u = k_sqrt_2_over_pi * (x + T(0.044715) * x * x * x);
      T th = tanh(u);
      T du = k_sqrt_2_over_pi * (T(1) + T(3) * T(0.044715) * x * x);
      return T(0.5) * (T(1) + th) + T(0.5) * x * (T(1) - th * th) * du;
    }
    case UnaryOp::gelu_erf:
      return T(0.5) * (T(1) + erf(x * k_inv_sqrt2)) + x * k_inv_sqrt_2pi * exp(T(-0.5) * x * x);
    case UnaryOp::silu: {
      T s = sigmoid_of(x);
      return s * (T(1) + x * (T(1) - s));
    }
    case UnaryOp::sigmoid: return y * (T(1) - y);
    case UnaryOp::softplus: return sigmoid_of(x);
    case UnaryOp::tanh: return T(1) - y * y;
    case UnaryOp::exp: return y;
    case UnaryOp::log: return T(1) / x;
    case UnaryOp::square: return T(2) * x;
    case UnaryOp::rsqrt: return T(-0.5) * y * y * y;
    default: return T(1);
  }
}

enum class BinaryOp : uint8_t { add, sub, mul };

template <class T>
WEFT_HD T binary_value(BinaryOp op, T a, T b) {
  return op == BinaryOp::add ? a + b : op == BinaryOp::sub ? a - b : a * b;
}
// Partial derivatives d/da and d/db.
template <class T>
WEFT_HD T binary_da(BinaryOp op, T, T b) {
  return op == BinaryOp::mul ? b : T(1);
}
template <class T>
WEFT_HD T binary_db(BinaryOp op, T a, T) {
  return op == BinaryOp::mul ? a : op == BinaryOp::sub ? T(-1) : T(1);
}

// Numpy-style broadcasting of two operands to an output shape (rank <= 6). A stride of 0 repeats
// an operand along that dimension.
struct Broadcast {
  int rank = 0;
  int64_t out[6] = {};
  int64_t a_stride[6] = {};
  int64_t b_stride[6] = {};
  WEFT_HD void offsets(int64_t i, int64_t& ia, int64_t& ib) const {
    ia = 0;
    ib = 0;
    for (int d = rank - 1; d >= 0; --d) {
      int64_t c = i % out[d];
      i /= out[d];
      ia += c * a_stride[d];
      ib += c * b_stride[d];
    }
  }
};

// Dropout: keep element i (scaled by 1/(1-p)) when its uniform draw is >= p.
WEFT_HD bool dropout_keep(float u, float p) { return u > p; }

}  // namespace weft
