// CPU side of device memory, Buffer and OwnedTensor.
#include "runtime/memory.h"

#include <cstdlib>
#include <cstring>

namespace weft {

namespace cuda_mem {  // implemented in backend_cuda/memory.cu or backend_cuda/no_cuda.cpp
void* alloc(size_t bytes);
void free(void* p);
void zero(void* p, size_t bytes);
void copy(void* dst, bool dst_cuda, const void* src, bool src_cuda, size_t bytes);
}  // namespace cuda_mem

void* device_alloc(Device dev, size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (dev == Device::cuda) return cuda_mem::alloc(bytes);
  size_t rounded = (bytes + 255) / 256 * 256;
  void* p = std::aligned_alloc(256, rounded);
  WEFT_CHECK(p, "[device_alloc] out of host memory allocating ", bytes, " bytes");
  return p;
}

void device_free(Device dev, void* p) {
  if (!p) return;
  if (dev == Device::cuda)
    cuda_mem::free(p);
  else
    std::free(p);
}

void device_zero(Device dev, void* p, size_t bytes) {
  if (!bytes) return;
  if (dev == Device::cuda)
    cuda_mem::zero(p, bytes);
  else
    std::memset(p, 0, bytes);
}

void device_copy(Device dst_dev, void* dst, Device src_dev, const void* src, size_t bytes) {
  if (!bytes) return;
  if (dst_dev == Device::cpu && src_dev == Device::cpu)
    std::memcpy(dst, src, bytes);
  else
    cuda_mem::copy(dst, dst_dev == Device::cuda, src, src_dev == Device::cuda, bytes);
}

Buffer::Buffer(Device dev, size_t bytes) : data_(device_alloc(dev, bytes)), bytes_(bytes), dev_(dev) {}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
    dev_ = o.dev_;
  }
  return *this;
}

void Buffer::release() {
  device_free(dev_, data_);
  data_ = nullptr;
  bytes_ = 0;
}

OwnedTensor::OwnedTensor(DType dt, Shape shape, Device dev) {
  t_.dtype = dt;
  t_.device = dev;
  t_.shape = shape;
  buf_ = Buffer(dev, t_.nbytes());
  t_.data = buf_.data();
  device_zero(dev, t_.data, t_.nbytes());
}

OwnedTensor OwnedTensor::to(Device dev) const {
  OwnedTensor r(t_.dtype, t_.shape, dev);
  device_copy(dev, r.t_.data, t_.device, t_.data, t_.nbytes());
  return r;
}

}  // namespace weft
