// The CUDA backend of a CPU-only build (WEFT_CUDA=OFF): every cuda:: kernel and CUDA memory function
// (and InputStager) exists and throws "built without CUDA", so code can name them without #ifdefs.
#include "runtime/check.h"
#include "runtime/cudnn_info.h"
#include "runtime/input_stager.h"
#include "runtime/kernels.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"

namespace weft {

namespace {
[[noreturn]] void no_cuda(const char* what) {
  WEFT_FAIL("[cuda::", what, "] weft was built without CUDA (configure with -DWEFT_CUDA=ON)");
}
}  // namespace

namespace cuda_mem {
void* alloc(size_t) { no_cuda("alloc"); }
void free(void*) { no_cuda("free"); }
void zero(void*, size_t) { no_cuda("zero"); }
void copy(void*, bool, const void*, bool, size_t) { no_cuda("copy"); }
}  // namespace cuda_mem

struct InputStager::Impl {};
InputStager::InputStager(Exec&, size_t, int) { no_cuda("InputStager"); }
InputStager::~InputStager() = default;
std::vector<void*> InputStager::upload(std::initializer_list<HostPiece>) { no_cuda("InputStager::upload"); }

namespace cuda {
bool built() { return false; }
bool cudnn_attention_built() { return false; }
std::vector<float> cudnn_alibi_slopes(int64_t) { return {}; }
int cudnn_version() { return 0; }
int device_count() { return 0; }
DeviceInfo device_info(int) { no_cuda("device_info"); }
size_t memory_in_use_bytes() { no_cuda("memory_in_use_bytes"); }
Exec exec_create(int) { no_cuda("exec_create"); }
void exec_destroy(Exec&) {}
void synchronize(Exec&) {}

#define WEFT_KERNEL(ready, name, ...) \
  void name(__VA_ARGS__) { no_cuda(#name); }
#include "runtime/kernel_decls.inc"
#undef WEFT_KERNEL
}  // namespace cuda

}  // namespace weft
