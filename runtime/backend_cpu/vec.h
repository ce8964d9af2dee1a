// Small vector loops for the CPU kernels (dot, axpy), compiled for AVX-512, AVX2 and a baseline, with
// the best one chosen at load time (GCC target_clones), so one binary is fast on new CPUs and still
// runs on old ones.
#pragma once

#include <cstdint>

namespace weft {
struct AdamWHyper;
}

namespace weft::cpu {

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define WEFT_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WEFT_MULTIVERSION
#endif

float dot(const float* a, const float* b, int64_t n);
double dot(const double* a, const double* b, int64_t n);
void axpy(float* y, float alpha, const float* x, int64_t n);  // y += alpha * x
void axpy(double* y, double alpha, const double* x, int64_t n);
// The largest of x[0..n) (n >= 1), in eight vector lanes; exact, so the lane order changes nothing.
float max_value(const float* x, int64_t n);
double max_value(const double* x, int64_t n);

// sum_i exp(x[i] - m) and y[i] = exp(x[i] - m) * scale (+= when accumulate), float, vectorised exp.
float sum_exp_f32(const float* x, float m, int64_t n);
void exp_scale_f32(float* y, const float* x, float m, float scale, int64_t n, bool accumulate);
// y[i] = exp(x[i] - m), returning their sum in sum_exp_f32's order (the same value to the bit); y *= s.
float exp_store_sum_f32(float* y, const float* x, float m, int64_t n);
void scale_f32(float* y, float s, int64_t n);

// GELU (tanh approximation) in float with a branch-free exp that vectorises (max error ~2e-7 relative to
// the double-precision formula); the f64 path keeps std::tanh. dx = (accumulate ? dx : 0) + dy * gelu'(x).
void gelu_tanh_f32(float* y, const float* x, int64_t n);
void gelu_tanh_backward_f32(float* dx, const float* dy, const float* x, int64_t n, bool accumulate);
// One row of an MLP up-projection's epilogue: x += bias, then y = gelu_tanh(x) (the same two roundings as
// adding the bias and applying gelu_tanh_f32 in separate passes).
void bias_gelu_tanh_f32(float* y, float* x, const float* bias, int64_t n);

// AdamW (runtime/math/adamw.h's formula) over n floats whose four arrays do not overlap, and the sum of
// squares of n floats in double (eight partial sums, a fixed order: the same result on every run).
void adamw_f32(float* p, float* m, float* v, const float* g, int64_t n, const AdamWHyper& h);
double sum_squares_f32(const float* x, int64_t n);

}  // namespace weft::cpu
