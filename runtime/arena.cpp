// Arena implementation.
#include "runtime/arena.h"

#include <algorithm>

namespace weft {

Arena::Arena(Device dev, size_t initial_bytes) : dev_(dev) {
  blocks_.reserve(16);
  add_block(initial_bytes);
}

void Arena::add_block(size_t min_bytes) {
  size_t last = blocks_.empty() ? 0 : blocks_.back().buf.bytes();
  size_t bytes = std::max(min_bytes, last * 2);
  blocks_.push_back(Block{Buffer(dev_, bytes), 0});
  ++system_allocs_;
}

void* Arena::alloc(size_t bytes, size_t align) {
  Block* b = &blocks_.back();
  size_t start = (b->offset + align - 1) / align * align;
  if (start + bytes > b->buf.bytes()) {
    add_block(bytes + align);
    b = &blocks_.back();
    start = 0;
  }
  b->offset = start + bytes;
  used_total_ += bytes;
  high_water_ = std::max(high_water_, used_total_);
  return static_cast<char*>(b->buf.data()) + start;
}

Tensor Arena::tensor(DType dt, Shape shape) {
  Tensor t;
  t.dtype = dt;
  t.device = dev_;
  t.shape = shape;
  t.data = alloc(t.nbytes());
  return t;
}

Tensor Arena::zeros(DType dt, Shape shape) {
  Tensor t = tensor(dt, shape);
  device_zero(dev_, t.data, t.nbytes());
  return t;
}

void Arena::reset() {
  if (blocks_.size() > 1) {
    size_t total = 0;
    for (auto& b : blocks_) total += b.buf.bytes();
    blocks_.clear();
    add_block(std::max(total, high_water_ + high_water_ / 8));
  }
  blocks_.back().offset = 0;
  used_total_ = 0;
}

}  // namespace weft
