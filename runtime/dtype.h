// Element types and devices.
// bf16 is stored as its upper 16 bits of an IEEE float (round-to-nearest-even on conversion); the struct
// is layout-compatible with CUDA's __nv_bfloat16, so device kernels reinterpret the same buffers.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "runtime/math/hd.h"

namespace weft {

enum class DType : uint8_t { f32, bf16, f64, i32, i64 };
enum class Device : uint8_t { cpu, cuda };

struct bf16 {
  uint16_t bits = 0;
  WEFT_HD static bf16 from_float(float f) {
    uint32_t u;
#ifdef __CUDA_ARCH__
    u = __float_as_uint(f);
#else
    std::memcpy(&u, &f, 4);
#endif
    bf16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep it quiet NaN
      r.bits = static_cast<uint16_t>((u >> 16) | 0x40u);
      return r;
    }
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
    r.bits = static_cast<uint16_t>(u >> 16);
    return r;
  }
  WEFT_HD float to_float() const {
    uint32_t u = static_cast<uint32_t>(bits) << 16;
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float f;
    std::memcpy(&f, &u, 4);
    return f;
#endif
  }
};

inline constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::bf16: return 2;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
  }
  return 0;
}

inline constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::bf16: return "bf16";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
  }
  return "?";
}

inline constexpr bool dtype_is_float(DType t) {
  return t == DType::f32 || t == DType::bf16 || t == DType::f64;
}

inline constexpr std::string_view device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

// Map a C++ type to its DType tag.
template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };

}  // namespace weft
