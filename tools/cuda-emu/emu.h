// Host emulation of the CUDA device features our kernels use, force-included (g++ -include) into each
// kernel source after tools/cuda-emu/transform.py rewrote its launches. Device memory is host memory.
//
// A launch runs its blocks one after another; the threads of a block are cooperative fibers (ucontext)
// on one OS thread, switched only at __syncthreads, warp intrinsics and __syncwarp, so runs are
// deterministic. Checked on the way: block and warp barriers reached from the same source line by every
// live thread / lane (else "divergent"), warp intrinsics with a full mask only when all 32 lanes exist
// and are live, deadlocks (no fiber can move), launch limits (block <= 1024 threads, grid.y/z <= 65535,
// dynamic shared memory <= 48 KiB unless raised with cudaFuncSetAttribute, <= 227 KiB), __trap().
// Shared memory (dynamic and static __shared__) is filled with 0xff bytes (NaN for f32 / bf16, -1 for
// int) before every block, so reading it before writing it shows up in the results.
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <vector>

#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __forceinline__
#undef __noinline__
#undef __launch_bounds__
#undef __constant__
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
// Static __shared__ variables: transform.py rewrites `__shared__ T name[...];` into a static plus
// EMU_SHARED(name) (registers it for poisoning). Blocks run one at a time, so a function-local static
// is exactly one block's copy.
#define EMU_SHARED(name) ::emu::register_shared(&(name), sizeof(name))

namespace emu {

[[noreturn]] void fail(const char* what, const std::source_location& loc = std::source_location::current());
[[noreturn]] void fail_at(const char* what, const char* file, unsigned line);

// Current fiber's coordinates (the scheduler sets them at every switch).
extern uint3 t_idx, b_idx;
extern dim3 g_dim, b_dim;

void register_shared(void* p, size_t bytes);
void* dynamic_smem();

// Barriers (block-wide or over one warp); `file`/`line` name the call site for the divergence check.
void sync_block(const char* file, unsigned line);
void sync_warp(unsigned mask, const char* file, unsigned line);
// Exchanges 8 bytes per lane through the warp: every live lane of the warp calls it from the same site;
// returns the value lane `src_of[lane]` passed (the caller's own value if src_of is outside the warp).
uint64_t warp_exchange(unsigned mask, uint64_t mine, int src_lane, const char* file, unsigned line);
// Collects one 64-bit value per lane and returns all 32 (for ballot / any / all).
void warp_gather(unsigned mask, uint64_t mine, uint64_t (&all)[32], const char* file, unsigned line);
int lane_id();

// Runs thunk(ctx) for every (block, thread) of the launch; a bad configuration sets the error that
// cudaGetLastError returns (the kernel does not run).
struct LaunchConfig {
  dim3 grid, block;
  size_t smem;
};
void run_launch(const LaunchConfig& cfg, void (*thunk)(void*), void* ctx);

// `kernel<<<cfg>>>(args)` becomes launch(call, cfg)(args), call = [&](auto... a) { kernel(a...); }.
template <class F>
struct Launch {
  F call;
  LaunchConfig cfg;
  template <class... P>
  void operator()(P&&... args) {
    struct Ctx {
      F* call;
      std::tuple<std::decay_t<P>...> params;
    } ctx{&call, std::tuple<std::decay_t<P>...>(std::forward<P>(args)...)};
    run_launch(cfg, [](void* p) {
      auto* c = static_cast<Ctx*>(p);
      auto copy = c->params;  // kernel parameters are per-thread values
      std::apply(*c->call, copy);
    }, &ctx);
  }
};
inline dim3 as_dim(dim3 d) { return d; }
inline dim3 as_dim(unsigned v) { return dim3(v); }
inline dim3 as_dim(int v) { return dim3(static_cast<unsigned>(v)); }
inline dim3 as_dim(int64_t v) { return dim3(static_cast<unsigned>(v)); }
inline dim3 as_dim(uint64_t v) { return dim3(static_cast<unsigned>(v)); }
template <class F, class G, class B>
Launch<F> launch(F call, G grid, B block, size_t smem = 0, cudaStream_t = nullptr) {
  return {call, {as_dim(grid), as_dim(block), smem}};
}

template <class T>
uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>);
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T>
T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

}  // namespace emu

#undef threadIdx
#undef blockIdx
#undef gridDim
#undef blockDim
#undef warpSize
#define threadIdx (::emu::t_idx)
#define blockIdx (::emu::b_idx)
#define gridDim (::emu::g_dim)
#define blockDim (::emu::b_dim)
#define warpSize 32

#define EMU_HERE std::source_location loc = std::source_location::current()
inline void __syncthreads(EMU_HERE) { emu::sync_block(loc.file_name(), loc.line()); }
inline void __syncwarp(unsigned mask = 0xffffffffu, EMU_HERE) { emu::sync_warp(mask, loc.file_name(), loc.line()); }
[[noreturn]] inline void __trap(EMU_HERE) { emu::fail("__trap() called", loc); }
template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32, EMU_HERE) {
  const int lane = emu::lane_id(), base = lane & ~(width - 1);
  return emu::from_bits<T>(emu::warp_exchange(mask, emu::to_bits(v), base + (src & (width - 1)), loc.file_name(), loc.line()));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int m, int width = 32, EMU_HERE) {
  const int lane = emu::lane_id(), base = lane & ~(width - 1), s = lane ^ m;
  const int src = (s >= base && s < base + width) ? s : lane;
  return emu::from_bits<T>(emu::warp_exchange(mask, emu::to_bits(v), src, loc.file_name(), loc.line()));
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32, EMU_HERE) {
  const int lane = emu::lane_id();
  const int src = (lane % width) + int(d) < width ? lane + int(d) : lane;
  return emu::from_bits<T>(emu::warp_exchange(mask, emu::to_bits(v), src, loc.file_name(), loc.line()));
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned d, int width = 32, EMU_HERE) {
  const int lane = emu::lane_id();
  const int src = (lane % width) >= int(d) ? lane - int(d) : lane;
  return emu::from_bits<T>(emu::warp_exchange(mask, emu::to_bits(v), src, loc.file_name(), loc.line()));
}
inline unsigned __ballot_sync(unsigned mask, int pred, EMU_HERE) {
  uint64_t all[32];
  emu::warp_gather(mask, pred ? 1 : 0, all, loc.file_name(), loc.line());
  unsigned r = 0;
  for (int l = 0; l < 32; ++l)
    if ((mask >> l & 1u) && all[l]) r |= 1u << l;
  return r;
}
inline int __any_sync(unsigned mask, int pred, EMU_HERE) { return __ballot_sync(mask, pred, loc) != 0; }
inline int __all_sync(unsigned mask, int pred, EMU_HERE) { return __ballot_sync(mask, pred, loc) == mask; }
#undef EMU_HERE

template <class T>
T __ldg(const T* p) { return *p; }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
inline float __int_as_float(int x) { return emu::from_bits<float>(static_cast<uint32_t>(x)); }
inline int __float_as_int(float x) { return static_cast<int>(static_cast<uint32_t>(emu::to_bits(x))); }
inline float __uint_as_float(unsigned x) { return emu::from_bits<float>(x); }
inline unsigned __float_as_uint(float x) { return static_cast<uint32_t>(emu::to_bits(x)); }
// The C++ overload of cuda_runtime.h (nvcc only): kernels pass their function pointer.
template <class F>
cudaError_t cudaFuncSetAttribute(F* f, cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(f), attr, value);
}
