// Shape and Tensor helpers.
#include "runtime/tensor.h"

#include <sstream>

namespace weft {

Shape::Shape(std::initializer_list<int64_t> d) {
  WEFT_CHECK(d.size() <= kMaxDims, "[Shape] more than ", kMaxDims, " dims");
  for (int64_t v : d) dims[rank++] = v;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= dims[i];
  return n;
}

Shape Shape::with_last(int64_t n) const {
  Shape s = *this;
  if (s.rank == 0) s.rank = 1;
  s.dims[s.rank - 1] = n;
  return s;
}

bool Shape::operator==(const Shape& o) const {
  if (rank != o.rank) return false;
  for (int i = 0; i < rank; ++i)
    if (dims[i] != o.dims[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::ostringstream os;
  os << "(";
  for (int i = 0; i < rank; ++i) os << (i ? ", " : "") << dims[i];
  os << ")";
  return os.str();
}

Tensor Tensor::reshape(Shape s) const {
  WEFT_CHECK(s.numel() == numel(), "[reshape] ", shape.str(), " -> ", s.str(), " changes the element count");
  Tensor t = *this;
  t.shape = s;
  return t;
}

Tensor Tensor::slice_rows(int64_t begin, int64_t end) const {
  WEFT_CHECK(shape.rank >= 1 && 0 <= begin && begin <= end && end <= shape[0], "[slice_rows] rows [", begin,
             ", ", end, ") out of ", shape.str());
  Tensor t = *this;
  int64_t row = shape[0] ? numel() / shape[0] : 0;
  t.data = static_cast<char*>(data) + begin * row * dtype_size(dtype);
  t.shape.dims[0] = end - begin;
  return t;
}

std::string Tensor::str() const {
  return std::string(dtype_name(dtype)) + shape.str() + " " + std::string(device_name(device));
}

void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  WEFT_CHECK(a.shape == b.shape, "[", op, "] shape mismatch: ", a.shape.str(), " vs ", b.shape.str());
}

void check_same_device_dtype(const char* op, const Tensor& a, const Tensor& b) {
  WEFT_CHECK(a.device == b.device, "[", op, "] device mismatch: ", a.str(), " vs ", b.str());
  WEFT_CHECK(a.dtype == b.dtype, "[", op, "] dtype mismatch: ", a.str(), " vs ", b.str());
}

}  // namespace weft
