// Shape and Tensor: a non-owning, contiguous, row-major view of typed memory on one device.
// Memory is owned elsewhere: the ParamStore (parameters and gradients), an Arena (per-step activations)
// or a Buffer (tests, long-lived state). Copying a Tensor copies the view, never the data.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "runtime/check.h"
#include "runtime/dtype.h"

namespace weft {

struct Shape {
  static constexpr int kMaxDims = 6;
  std::array<int64_t, kMaxDims> dims{};
  int rank = 0;

  Shape() = default;
  Shape(std::initializer_list<int64_t> d);
  template <class It>
  static Shape from(It begin, It end) {
    Shape s;
    for (It it = begin; it != end; ++it) {
      WEFT_CHECK(s.rank < kMaxDims, "[Shape] more than ", kMaxDims, " dims");
      s.dims[s.rank++] = *it;
    }
    return s;
  }

  int64_t operator[](int i) const { return dims[i < 0 ? rank + i : i]; }
  int64_t& operator[](int i) { return dims[i < 0 ? rank + i : i]; }
  int64_t numel() const;
  int64_t last() const { return rank ? dims[rank - 1] : 1; }
  int64_t rows() const { return rank ? numel() / last() : 1; }  // product of all but the last dim
  Shape with_last(int64_t n) const;  // same leading dims, last dim replaced
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;  // "(2, 3, 4)"
};

struct Tensor {
  DType dtype = DType::f32;
  Device device = Device::cpu;
  Shape shape;
  void* data = nullptr;

  int64_t numel() const { return shape.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  bool defined() const { return data != nullptr; }
  template <class T>
  T* ptr() const {
    return static_cast<T*>(data);
  }
  Tensor reshape(Shape s) const;            // same data, new shape of equal numel
  Tensor slice_rows(int64_t begin, int64_t end) const;  // rows of the first dim
  std::string str() const;                  // "f32(2, 3) cpu"
};

// Shape checks used by op front-ends; they throw weft::Error naming the op.
void check_same_shape(const char* op, const Tensor& a, const Tensor& b);
void check_same_device_dtype(const char* op, const Tensor& a, const Tensor& b);

}  // namespace weft
