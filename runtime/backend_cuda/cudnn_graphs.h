// What the cuDNN-backed kernels (attention_cudnn.cpp, norm_cudnn.cpp) share, in builds with cuDNN's frontend
// (WEFT_HAVE_CUDNN_FRONTEND): an Exec's cuDNN state (handle on the Exec's stream, graphs built once per call shape
// and cached by a text key, workspace and scratch that grow on demand), made on the first cuDNN call and freed by
// exec_destroy (cudnn_release). Include only from those files: it pulls in the frontend's headers.
#pragma once

#include <cudnn_frontend.h>
#include <cuda_runtime.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "runtime/check.h"
#include "runtime/exec.h"

#define WEFT_CUDNN_CUDA_OK(call)                                                                   \
  do {                                                                                             \
    cudaError_t weft_status_ = (call);                                                             \
    if (weft_status_ != cudaSuccess) WEFT_FAIL("[cudnn] ", #call, ": ", cudaGetErrorString(weft_status_)); \
  } while (0)

namespace weft::cuda {

namespace fe = cudnn_frontend;

// A built graph, or (graph null) why cuDNN does not run the case.
struct CachedGraph {
  std::shared_ptr<fe::graph::Graph> graph;
  std::string reason;
  int64_t workspace_bytes = 0;
};

// Device memory that grows on demand, in stream order (cudaMallocAsync / cudaFreeAsync on the Exec's stream): the
// old block is released after the work queued on it, nothing synchronizes.
class DeviceScratch {
 public:
  explicit DeviceScratch(cudaStream_t stream) : stream_(stream) {}
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  ~DeviceScratch() {
    if (ptr_) cudaFreeAsync(ptr_, stream_);
  }
  void* at_least(size_t bytes);

 private:
  cudaStream_t stream_;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

struct CudnnState {
  cudnnHandle_t handle = nullptr;
  std::unordered_map<std::string, CachedGraph> graphs;
  std::unordered_map<const float*, bool> alibi_matches;  // slope buffer -> equal to cuDNN's (attention_cudnn.cpp)
  DeviceScratch workspace, bias, grads;  // cuDNN's workspace; attention's bias input; gradients before they are added
  explicit CudnnState(cudaStream_t stream) : workspace(stream), bias(stream), grads(stream) {}
  CudnnState(const CudnnState&) = delete;
  CudnnState& operator=(const CudnnState&) = delete;
  ~CudnnState();
};

CudnnState& cudnn_state(Exec& ex);

// The graph cached under `key`, built by `make` (which declares tensors and operations) and then validated,
// lowered, planned (heuristics A) and checked by cuDNN on first use. A failure at any step is cached too.
const CachedGraph& cached_graph(CudnnState& st, const std::string& key,
                                const std::function<std::shared_ptr<fe::graph::Graph>()>& make);

// Runs a built graph on the Exec's stream with the shared workspace; tensors by uid.
void execute_graph(Exec& ex, const CachedGraph& g, std::unordered_map<int64_t, void*>& pack, const char* what);

}  // namespace weft::cuda
