// Multiversioned vector loops (see vec.h).
#include "runtime/backend_cpu/vec.h"

#include <cstring>

namespace weft::cpu {

WEFT_MULTIVERSION float dot(const float* a, const float* b, int64_t n) {
  // Eight partial sums so the compiler can vectorise without reassociating a single chain.
  float s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += a[i + k] * b[i + k];
  float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
}

WEFT_MULTIVERSION double dot(const double* a, const double* b, int64_t n) {
  double s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += a[i + k] * b[i + k];
  double r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
}

namespace {
template <class F>
inline F max_value_impl(const F* x, int64_t n) {
  F m[8];
  for (int k = 0; k < 8; ++k) m[k] = x[0];
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) m[k] = x[j + k] > m[k] ? x[j + k] : m[k];
  F r = m[0];
  for (int k = 1; k < 8; ++k) r = m[k] > r ? m[k] : r;
  for (; j < n; ++j) r = x[j] > r ? x[j] : r;
  return r;
}
}  // namespace

WEFT_MULTIVERSION float max_value(const float* x, int64_t n) { return max_value_impl(x, n); }
WEFT_MULTIVERSION double max_value(const double* x, int64_t n) { return max_value_impl(x, n); }

WEFT_MULTIVERSION void axpy(float* y, float alpha, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

WEFT_MULTIVERSION void axpy(double* y, double alpha, const double* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

namespace {

// exp(x) for float: x = n ln2 + r (Cody-Waite), e^r by a degree-6 polynomial, 2^n by exponent bits.
inline float exp_f32(float x_in) {
  float x = x_in < -87.0f ? -87.0f : (x_in > 88.0f ? 88.0f : x_in);
  float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666672e-1f + r * (4.16666418e-2f + r * (8.33336823e-3f +
                                                                                  r * 1.38873036e-3f)))));
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return x_in < -87.0f ? 0.0f : p * scale;  // exp(-inf) = 0 (masked attention scores)
}

inline float tanh_f32(float u) { return 1.0f - 2.0f / (1.0f + exp_f32(2.0f * u)); }

constexpr float kSqrt2OverPi = 0.7978845608028654f, kCoef = 0.044715f;

inline float gelu_tanh_value_f32(float v) {
  return 0.5f * v * (1.0f + tanh_f32(kSqrt2OverPi * (v + kCoef * v * v * v)));
}

inline float gelu_tanh_derivative_f32(float v) {
  float th = tanh_f32(kSqrt2OverPi * (v + kCoef * v * v * v));
  float du = kSqrt2OverPi * (1.0f + 3.0f * kCoef * v * v);
  return 0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * du;
}

}  // namespace

WEFT_MULTIVERSION void gelu_tanh_f32(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = gelu_tanh_value_f32(x[i]);
}

WEFT_MULTIVERSION void bias_gelu_tanh_f32(float* __restrict y, float* __restrict x, const float* __restrict bias,
                                          int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] + bias[i];
    x[i] = v;
    y[i] = gelu_tanh_value_f32(v);
  }
}

WEFT_MULTIVERSION void gelu_tanh_backward_f32(float* dx, const float* dy, const float* x, int64_t n, bool accumulate) {
  if (accumulate)
    for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * gelu_tanh_derivative_f32(x[i]);
  else
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * gelu_tanh_derivative_f32(x[i]);
}

WEFT_MULTIVERSION float sum_exp_f32(const float* x, float m, int64_t n) {
  float s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += exp_f32(x[i + k] - m);
  float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; ++i) r += exp_f32(x[i] - m);
  return r;
}

WEFT_MULTIVERSION float exp_store_sum_f32(float* y, const float* x, float m, int64_t n) {
  float s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += (y[i + k] = exp_f32(x[i + k] - m));
  float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; ++i) r += (y[i] = exp_f32(x[i] - m));
  return r;
}

WEFT_MULTIVERSION void scale_f32(float* y, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= s;
}

WEFT_MULTIVERSION void exp_scale_f32(float* y, const float* x, float m, float scale, int64_t n, bool accumulate) {
  if (accumulate)
    for (int64_t i = 0; i < n; ++i) y[i] += exp_f32(x[i] - m) * scale;
  else
    for (int64_t i = 0; i < n; ++i) y[i] = exp_f32(x[i] - m) * scale;
}

}  // namespace weft::cpu
