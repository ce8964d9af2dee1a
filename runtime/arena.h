// Arena: a bump allocator for per-step memory (activations, their gradients, tape closures).
// alloc() takes from the current block or, when full, from a new block (a real allocation). reset() frees
// everything at once; if the step needed more than one block, reset() replaces them with one block of the
// high-water size, so from the second step on a training step allocates nothing from the system.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/memory.h"

namespace weft {

class Arena {
 public:
  explicit Arena(Device dev = Device::cpu, size_t initial_bytes = size_t(1) << 20);
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  void* alloc(size_t bytes, size_t align = 64);
  Tensor tensor(DType dt, Shape shape);       // uninitialised
  Tensor zeros(DType dt, Shape shape);        // zero-filled
  void reset();

  Device device() const { return dev_; }
  size_t used() const { return used_total_; }
  int64_t system_allocations() const { return system_allocs_; }  // blocks ever allocated

 private:
  struct Block {
    Buffer buf;
    size_t offset = 0;
  };
  void add_block(size_t min_bytes);

  Device dev_;
  std::vector<Block> blocks_;
  size_t used_total_ = 0;
  size_t high_water_ = 0;
  int64_t system_allocs_ = 0;
};

}  // namespace weft
