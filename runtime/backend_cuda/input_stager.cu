// InputStager on CUDA (runtime/input_stager.h): pinned host slots, device slots, a side stream and two
// events per slot. Per upload into slot k:
//   host:   wait until slot k's previous copy has left its pinned buffer (queued `slots` uploads ago),
//           record "consumed" on the compute stream for the slot handed out last (everything that reads it
//           is queued by now), fill slot k's pinned buffer;
//   side:   wait for slot k's "consumed" (the compute work that read its previous contents), copy, record
//           "copied";
//   compute: wait for "copied".
#include <cstring>

#include "runtime/backend_cuda/cuda_common.cuh"
#include "runtime/input_stager.h"

namespace weft {

struct InputStager::Impl {
  struct Slot {
    void* host = nullptr;    // pinned
    void* device = nullptr;
    cudaEvent_t copied = nullptr, consumed = nullptr;
    bool used = false;       // holds an upload (its events have been recorded)
  };
  cudaStream_t compute = nullptr, side = nullptr;
  size_t slot_bytes = 0;
  std::vector<Slot> slots;
  int next = 0, last = -1;  // the slot the next upload fills; the one handed out last (-1: none)

  ~Impl() {  // never throws: a failure here leaves memory to the process exit
    if (side) cudaStreamSynchronize(side);
    for (Slot& s : slots) {
      if (s.host) cudaFreeHost(s.host);
      if (s.device) cudaFree(s.device);
      if (s.copied) cudaEventDestroy(s.copied);
      if (s.consumed) cudaEventDestroy(s.consumed);
    }
    if (side) cudaStreamDestroy(side);
  }
};

InputStager::InputStager(Exec& ex, size_t slot_bytes, int slots) : impl_(std::make_unique<Impl>()) {
  WEFT_CHECK(ex.device == Device::cuda, "[InputStager] needs a CUDA Exec (the CPU path uses host arrays)");
  WEFT_CHECK(slots >= 2, "[InputStager] needs at least 2 slots, got ", slots);
  Impl& m = *impl_;
  m.compute = cuda::stream_of(ex);
  m.slot_bytes = slot_bytes;
  CUDA_CHECK(cudaStreamCreateWithFlags(&m.side, cudaStreamNonBlocking));
  m.slots.resize(static_cast<size_t>(slots));
  for (Impl::Slot& s : m.slots) {
    CUDA_CHECK(cudaHostAlloc(&s.host, slot_bytes, cudaHostAllocDefault));
    CUDA_CHECK(cudaMalloc(&s.device, slot_bytes));
    CUDA_CHECK(cudaEventCreateWithFlags(&s.copied, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&s.consumed, cudaEventDisableTiming));
  }
}

InputStager::~InputStager() = default;

std::vector<void*> InputStager::upload(std::initializer_list<HostPiece> pieces) {
  Impl& m = *impl_;
  size_t total = 0;
  for (const HostPiece& p : pieces) total += (p.bytes + kAlign - 1) / kAlign * kAlign;
  WEFT_CHECK(total <= m.slot_bytes, "[InputStager] an upload of ", total, " bytes into slots of ", m.slot_bytes);
  Impl::Slot& s = m.slots[static_cast<size_t>(m.next)];
  if (s.used) CUDA_CHECK(cudaEventSynchronize(s.copied));  // its pinned buffer may be overwritten now
  if (m.last >= 0) CUDA_CHECK(cudaEventRecord(m.slots[static_cast<size_t>(m.last)].consumed, m.compute));
  std::vector<void*> out;
  size_t at = 0;
  for (const HostPiece& p : pieces) {
    if (p.bytes) std::memcpy(static_cast<char*>(s.host) + at, p.data, p.bytes);
    out.push_back(static_cast<char*>(s.device) + at);
    at += (p.bytes + kAlign - 1) / kAlign * kAlign;
  }
  if (s.used) CUDA_CHECK(cudaStreamWaitEvent(m.side, s.consumed, 0));
  if (total) CUDA_CHECK(cudaMemcpyAsync(s.device, s.host, total, cudaMemcpyHostToDevice, m.side));
  CUDA_CHECK(cudaEventRecord(s.copied, m.side));
  CUDA_CHECK(cudaStreamWaitEvent(m.compute, s.copied, 0));
  s.used = true;
  m.last = m.next;
  m.next = (m.next + 1) % static_cast<int>(m.slots.size());
  return out;
}

}  // namespace weft
