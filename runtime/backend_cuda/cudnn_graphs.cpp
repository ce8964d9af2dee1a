// The Exec's cuDNN state (cudnn_graphs.h): handle, graph cache, workspace and scratch, and cudnn_release for
// exec_destroy. Without cuDNN's frontend only cudnn_release exists (there is nothing to free).
#include "runtime/backend_cuda/cudnn_ops.h"

#ifdef WEFT_HAVE_CUDNN_FRONTEND

#include "runtime/backend_cuda/cudnn_graphs.h"

namespace weft::cuda {

void* DeviceScratch::at_least(size_t bytes) {
  if (bytes <= bytes_) return ptr_;
  if (ptr_) WEFT_CUDNN_CUDA_OK(cudaFreeAsync(ptr_, stream_));
  ptr_ = nullptr;
  bytes_ = 0;
  WEFT_CUDNN_CUDA_OK(cudaMallocAsync(&ptr_, bytes, stream_));
  bytes_ = bytes;
  return ptr_;
}

CudnnState::~CudnnState() {
  graphs.clear();
  if (handle) cudnnDestroy(handle);
}

CudnnState& cudnn_state(Exec& ex) {
  if (!ex.cudnn) {
    auto st = std::make_unique<CudnnState>(static_cast<cudaStream_t>(ex.stream));
    cudnnStatus_t s = cudnnCreate(&st->handle);
    if (s == CUDNN_STATUS_SUCCESS) s = cudnnSetStream(st->handle, static_cast<cudaStream_t>(ex.stream));
    if (s != CUDNN_STATUS_SUCCESS) WEFT_FAIL("[cudnn] cannot create a handle: ", cudnnGetErrorString(s));
    ex.cudnn = st.release();
  }
  return *static_cast<CudnnState*>(ex.cudnn);
}

const CachedGraph& cached_graph(CudnnState& st, const std::string& key,
                                const std::function<std::shared_ptr<fe::graph::Graph>()>& make) {
  auto it = st.graphs.find(key);
  if (it != st.graphs.end()) return it->second;
  CachedGraph out;
  std::shared_ptr<fe::graph::Graph> g = make();
  auto step = [&](fe::error_t e, const char* what) {
    if (e.is_good()) return true;
    out.reason = std::string(what) + ": " + e.get_message();
    return false;
  };
  if (step(g->validate(), "validate") && step(g->build_operation_graph(st.handle), "build_operation_graph") &&
      step(g->create_execution_plans({fe::HeurMode_t::A}), "create_execution_plans") &&
      step(g->check_support(st.handle), "check_support") && step(g->build_plans(), "build_plans") &&
      step(g->get_workspace_size(out.workspace_bytes), "get_workspace_size"))
    out.graph = std::move(g);
  return st.graphs.emplace(key, std::move(out)).first->second;
}

void execute_graph(Exec& ex, const CachedGraph& g, std::unordered_map<int64_t, void*>& pack, const char* what) {
  CudnnState& st = cudnn_state(ex);
  void* workspace = st.workspace.at_least(static_cast<size_t>(g.workspace_bytes > 0 ? g.workspace_bytes : 1));
  fe::error_t e = g.graph->execute(st.handle, pack, workspace);
  if (e.is_bad()) WEFT_FAIL("[cudnn ", what, "] execute: ", e.get_message());
}

void cudnn_release(Exec& ex) {
  delete static_cast<CudnnState*>(ex.cudnn);
  ex.cudnn = nullptr;
}

}  // namespace weft::cuda

#else

namespace weft::cuda {
void cudnn_release(Exec&) {}
}  // namespace weft::cuda

#endif
