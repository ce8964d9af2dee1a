// Device memory: raw allocation and copies on cpu or cuda, an owning Buffer, and OwnedTensor (a Tensor
// with its own memory, for tests and long-lived state). The CUDA half lives in backend_cuda/memory.cu;
// a CPU-only build links backend_cuda/no_cuda.cpp, whose functions throw "built without CUDA".
#pragma once

#include <cstddef>
#include <utility>

#include "runtime/tensor.h"

namespace weft {

void* device_alloc(Device dev, size_t bytes);  // 256-byte aligned; throws on failure
void device_free(Device dev, void* p);
void device_zero(Device dev, void* p, size_t bytes);
// Copy between any two devices (cpu<->cuda, cuda<->cuda, cpu<->cpu); synchronous.
void device_copy(Device dst_dev, void* dst, Device src_dev, const void* src, size_t bytes);

class Buffer {
 public:
  Buffer() = default;
  Buffer(Device dev, size_t bytes);
  ~Buffer() { release(); }
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return dev_; }

 private:
  void release();
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device dev_ = Device::cpu;
};

class OwnedTensor {
 public:
  OwnedTensor() = default;
  OwnedTensor(DType dt, Shape shape, Device dev = Device::cpu);  // zero-filled
  const Tensor& tensor() const { return t_; }
  operator const Tensor&() const { return t_; }
  template <class T>
  T* ptr() const {
    return t_.ptr<T>();
  }
  int64_t numel() const { return t_.numel(); }
  OwnedTensor to(Device dev) const;  // a copy on another device

 private:
  Buffer buf_;
  Tensor t_;
};

}  // namespace weft
