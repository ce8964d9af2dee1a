// Helpers of the emulator checks: device buffers in host memory with poisoned guard bytes on both sides
// (an out-of-bounds write shows as a changed guard, a read as NaN / garbage in the results), inputs
// rounded to the tested dtype, comparison against the CPU twin as worst |err| / tolerance, and one
// PASS/FAIL line per case.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <cuda_bf16.h>

#include "runtime/kernels.h"

namespace check {

using weft::DType;

inline std::mt19937& rng() {
  static std::mt19937 r(12345);
  return r;
}
inline std::vector<float> uniform(size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng());
  return v;
}
inline float round_bf16(float x) { return __bfloat162float(__float2bfloat16(x)); }

// n elements of `es` bytes, 64 guard bytes of 0xff on each side; `shift` elements off 16-byte alignment.
class Buf {
 public:
  static constexpr size_t kGuard = 64;
  Buf(size_t n, size_t es, int shift = 0) : n_(n), es_(es), off_(kGuard + shift * es) {
    raw_.assign(off_ + n * es + kGuard + 16, 0xff);
    base_ = raw_.data() + ((16 - reinterpret_cast<uintptr_t>(raw_.data()) % 16) % 16);
  }
  void* p() { return n_ ? base_ + off_ : nullptr; }
  template <class T>
  T* as() { return reinterpret_cast<T*>(p()); }
  size_t size() const { return n_; }
  void check_guards(const char* what) const {
    for (size_t i = 0; i < off_; ++i)
      if (base_[i] != 0xff) throw std::runtime_error(std::string("write before the start of ") + what);
    for (size_t i = off_ + n_ * es_; i < off_ + n_ * es_ + kGuard; ++i)
      if (base_[i] != 0xff) throw std::runtime_error(std::string("write past the end of ") + what);
  }

 private:
  size_t n_, es_, off_;
  std::vector<unsigned char> raw_;
  unsigned char* base_;
};

// A float tensor stored as f32 or bf16; `ref` holds the stored values as float (the CPU twin's input).
struct FTensor {
  bool bf;
  Buf buf;
  std::vector<float> ref;
  FTensor(const std::vector<float>& v, bool bf16, int shift = 0)
      : bf(bf16), buf(v.size(), bf16 ? 2 : 4, shift), ref(v) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (bf) {
        buf.as<__nv_bfloat16>()[i] = __float2bfloat16(v[i]);
        ref[i] = __bfloat162float(buf.as<__nv_bfloat16>()[i]);
      } else {
        buf.as<float>()[i] = v[i];
      }
    }
  }
  void* p() { return buf.p(); }
  float* r() { return ref.empty() ? nullptr : ref.data(); }
  float get(size_t i) { return bf ? __bfloat162float(buf.as<__nv_bfloat16>()[i]) : buf.as<float>()[i]; }
  std::vector<float> got() {
    std::vector<float> g(ref.size());
    for (size_t i = 0; i < g.size(); ++i) g[i] = get(i);
    return g;
  }
};

struct Tol {
  double atol_rel, rtol;  // limit = atol_rel * max|ref| + rtol * |ref|
};
// f32: reduction order differs from the CPU's (sums of up to a few thousand terms).
constexpr Tol kF32{2e-6, 2e-5};
// bf16: inputs are identical bf16 values on both sides; the kernel rounds its float result once to bf16
// (half an ulp = 2^-9 relative), so one ulp (2^-8) plus f32-level slack covers a correct kernel.
constexpr Tol kBf16{1e-4, 1.0 / 256};

// Worst |got - ref| / limit over the elements (NaN counts as infinitely bad unless both are NaN / equal).
inline double compare(const char* what, const std::vector<float>& ref, const std::vector<float>& got, Tol t,
                      std::string& first_bad) {
  double mx = 0;
  for (float r : ref)
    if (std::isfinite(r)) mx = std::max(mx, double(std::fabs(r)));
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (ref[i] == got[i] || (std::isnan(ref[i]) && std::isnan(got[i]))) continue;
    const double lim = t.atol_rel * mx + t.rtol * std::fabs(ref[i]) + 1e-30;
    const double e = std::fabs(double(got[i]) - double(ref[i]));
    const double ratio = std::isfinite(e) ? e / lim : INFINITY;
    if (ratio > 1 && first_bad.empty()) {
      char b[200];
      std::snprintf(b, sizeof b, "%s[%zu] = %.7g, CPU %.7g", what, i, got[i], ref[i]);
      first_bad = b;
    }
    worst = std::max(worst, ratio);
  }
  return worst;
}

// One case: body() compares outputs through `cmp` and returns nothing; prints PASS/FAIL with the worst
// error relative to the tolerance.
struct Case {
  double worst = 0;
  std::string bad;
  void operator()(const char* what, const std::vector<float>& ref, const std::vector<float>& got, Tol t) {
    worst = std::max(worst, compare(what, ref, got, t, bad));
  }
  void exact(const char* what, const std::vector<int32_t>& ref, const int32_t* got) {
    for (size_t i = 0; i < ref.size(); ++i)
      if (ref[i] != got[i]) {
        worst = INFINITY;
        if (bad.empty()) bad = std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(got[i]) +
                               ", CPU " + std::to_string(ref[i]);
        return;
      }
  }
};

inline int& failures() {
  static int f = 0;
  return f;
}
inline int& cases() {
  static int c = 0;
  return c;
}

// Smoke runs (`--smoke`, the CTest test) take every kSmokeStride-th case of the whole sequence, so
// every family is sampled and the run stays well under a minute.
constexpr int kSmokeStride = 8;
inline bool& smoke() {
  static bool s = false;
  return s;
}
inline int& offered() {
  static int n = 0;
  return n;
}

// EMU_MATCH=text runs only the cases whose name holds text (inputs are seeded by the name, so a case
// sees the same numbers alone as in the whole run).
inline bool matches(const std::string& name) {
  static const char* match = std::getenv("EMU_MATCH");
  return !match || !*match || name.find(match) != std::string::npos;
}

inline void run(const std::string& name, const std::function<void(Case&)>& body) {
  if (smoke() && offered()++ % kSmokeStride != 0) return;
  if (!matches(name)) return;
  rng().seed(static_cast<uint32_t>(std::hash<std::string>{}(name)));  // inputs drawn in the body: the case's own
  Case c;
  std::string err;
  try {
    body(c);
  } catch (const std::exception& e) {
    err = e.what();
  }
  ++cases();
  const bool ok = err.empty() && c.worst <= 1.0;
  if (!ok) ++failures();
  std::printf("%s %-58s worst err/tol %8.3g%s%s\n", ok ? "PASS" : "FAIL", name.c_str(), c.worst,
              err.empty() ? "" : "  ERROR: ", err.c_str());
  if (!ok && !c.bad.empty()) std::printf("     first mismatch: %s\n", c.bad.c_str());
  std::fflush(stdout);
}

// An Exec for the emulated CUDA backend: device cuda, kernels on host memory, `workspace_bytes` of a
// 4 MiB host buffer as the workspace (0: none).
inline weft::Exec emu_exec(size_t workspace_bytes) {
  static std::vector<double> buffer((4u << 20) / sizeof(double));
  weft::Exec ex = weft::cpu_exec(1);
  ex.device = weft::Device::cuda;
  ex.workspace = workspace_bytes ? buffer.data() : nullptr;
  ex.workspace_bytes = std::min(workspace_bytes, buffer.size() * sizeof(double));
  return ex;
}
constexpr size_t kRowsWorkspace = 4u << 20;  // the row kernels' f32 partials (as before: 1 << 20 floats)

inline std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
inline std::string fmt(const char* f, ...) {
  char b[256];
  va_list a;
  va_start(a, f);
  std::vsnprintf(b, sizeof b, f, a);
  va_end(a);
  return b;
}

}  // namespace check
