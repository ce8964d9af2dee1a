// Host emulation of nvcuda::wmma (<mma.h>) for the tensor-core kernels, which transform.py points here
// instead of <mma.h>. Shape 16 x 16 x 16 only, bf16 / half operands, float accumulators. A fragment holds
// the whole 16 x 16 tile in every lane (the real per-lane layout is unspecified, and our kernels never
// index fragments), and every lane computes the same result. Each operation starts with a full-warp
// barrier from its call site, as the .sync operations require all 32 lanes: a divergent or partial warp
// is reported, and all lanes load before any lane stores. The API's requirements are checked: pointers
// 256-bit (32-byte) aligned, ldm a multiple of 16 bytes. Products of bf16 / half values are exact in
// float; the sum over k runs in order (the hardware's order differs, within the f32 tolerance).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <source_location>
#include <type_traits>

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "wmma_emu: only the 16 x 16 x 16 shape is emulated");
  float x[16 * 16];  // x[r * 16 + c], element (r, c) of the M x K (a), K x N (b) or M x N (accumulator) tile
};

namespace detail {
using Loc = std::source_location;
inline void warp_barrier(const Loc& loc) { ::emu::sync_warp(0xffffffffu, loc.file_name(), loc.line()); }
template <class T>
void check_pointer(const T* p, unsigned ldm, const Loc& loc) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0) ::emu::fail("wmma: pointer not 256-bit aligned", loc);
  if (ldm * sizeof(T) % 16 != 0) ::emu::fail("wmma: ldm not a multiple of 16 bytes", loc);
}
inline float as_float(float v) { return v; }
inline float as_float(__nv_bfloat16 v) { return __bfloat162float(v); }
inline float as_float(__half v) { return __half2float(v); }
// Element (r, c) of a tile stored with leading dimension ldm, row- or column-major.
template <class T>
float at(const T* p, unsigned ldm, bool row_major, int r, int c) {
  return as_float(row_major ? p[r * ldm + c] : p[r + c * ldm]);
}
}  // namespace detail

template <class Use, class T, class L>
void fill_fragment(fragment<Use, 16, 16, 16, T, L>& f, float v, detail::Loc loc = detail::Loc::current()) {
  detail::warp_barrier(loc);
  const float stored = detail::as_float(T(v));  // the fragment's element type holds the value
  for (float& e : f.x) e = stored;
}

// matrix_a / matrix_b fragments: the layout is part of the fragment type.
template <class Use, class T, class L>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, L>& f, const T* p, unsigned ldm,
                      detail::Loc loc = detail::Loc::current()) {
  static_assert(!std::is_same_v<Use, accumulator>, "accumulator loads take a layout_t");
  detail::check_pointer(p, ldm, loc);
  detail::warp_barrier(loc);
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) f.x[r * 16 + c] = detail::at(p, ldm, std::is_same_v<L, row_major>, r, c);
}

// Accumulator fragments: the memory layout is an argument.
template <class T>
void load_matrix_sync(fragment<accumulator, 16, 16, 16, T>& f, const T* p, unsigned ldm, layout_t layout,
                      detail::Loc loc = detail::Loc::current()) {
  detail::check_pointer(p, ldm, loc);
  detail::warp_barrier(loc);
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) f.x[r * 16 + c] = detail::at(p, ldm, layout == mem_row_major, r, c);
}
template <class T>
void store_matrix_sync(T* p, const fragment<accumulator, 16, 16, 16, T>& f, unsigned ldm, layout_t layout,
                       detail::Loc loc = detail::Loc::current()) {
  detail::check_pointer(p, ldm, loc);
  detail::warp_barrier(loc);
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) (layout == mem_row_major ? p[r * ldm + c] : p[r + c * ldm]) = T(f.x[r * 16 + c]);
}

// d = a b + c (d may alias c).
template <class T, class LA, class LB>
void mma_sync(fragment<accumulator, 16, 16, 16, float>& d, const fragment<matrix_a, 16, 16, 16, T, LA>& a,
              const fragment<matrix_b, 16, 16, 16, T, LB>& b, const fragment<accumulator, 16, 16, 16, float>& c,
              detail::Loc loc = detail::Loc::current()) {
  detail::warp_barrier(loc);
  float out[16 * 16];
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 16; ++n) {
      float s = c.x[m * 16 + n];
      for (int k = 0; k < 16; ++k) s += a.x[m * 16 + k] * b.x[k * 16 + n];
      out[m * 16 + n] = s;
    }
  for (int i = 0; i < 16 * 16; ++i) d.x[i] = out[i];
}

}  // namespace nvcuda::wmma
