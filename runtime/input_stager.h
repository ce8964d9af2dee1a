// InputStager: host arrays (a micro-batch's token ids and targets) copied to the GPU without stalling it.
// `slots` (2: double buffering) pinned host buffers and device buffers are used in turn: upload() copies
// into the next slot's pinned buffer, queues the host-to-device copy on a side stream and makes the
// Exec's stream wait on an event, so the copy runs while the previous micro-batch computes and the
// host never waits for the device to drain (device_copy synchronizes the whole device twice).
// A slot is refilled only after the work queued on the Exec's stream behind its previous upload (up to
// the next upload) has finished on the GPU. CUDA only: the CPU path uses the host arrays as they are.
// Implemented in backend_cuda/input_stager.cu; a CPU-only build's constructor throws "built without CUDA".
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <vector>

#include "runtime/exec.h"

namespace weft {

struct HostPiece {
  const void* data;  // host memory (pageable is fine: it is copied into the slot's pinned buffer first)
  size_t bytes;
};

class InputStager {
 public:
  // slot_bytes: the most one upload() carries, its pieces' 256-byte alignment padding included.
  InputStager(Exec& ex, size_t slot_bytes, int slots = 2);
  ~InputStager();
  InputStager(const InputStager&) = delete;
  InputStager& operator=(const InputStager&) = delete;

  // Copies the pieces, one after another at 256-byte aligned offsets, into the next slot; returns each
  // piece's device address [piece]. Valid for the work queued on ex's stream until the next upload()
  // (the slot is reused `slots` uploads later, after that work has finished).
  std::vector<void*> upload(std::initializer_list<HostPiece> pieces);
  // Space one upload of these piece sizes needs (alignment included).
  static size_t bytes_for(std::initializer_list<size_t> piece_bytes) {
    size_t total = 0;
    for (size_t b : piece_bytes) total += (b + kAlign - 1) / kAlign * kAlign;
    return total;
  }
  static constexpr size_t kAlign = 256;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft
