// InputStager (runtime/input_stager.h) on a GPU: token ids uploaded through the pinned, double-buffered
// side-stream copies reach the compute stream's kernels intact and in order. Each upload is followed on the
// compute stream by a slow GEMM and then an embedding lookup of the staged ids (what a model does with
// them), so a slot refilled before the work queued behind its previous upload has finished, or a kernel
// that does not wait for its copy, reads the wrong ids. The host sources are scribbled over right after
// each upload (the stager must have copied them). SKIPPED without a GPU; the 3-step training run against
// --sync-input is in tools/gpu-check/run.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "runtime/input_stager.h"
#include "runtime/kernels.h"
#include "runtime/memory.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

class InputStagerParity : public GpuKernelTest {};

TEST_F(InputStagerParity, UploadsReachTheComputeStreamIntactAndInOrder) {
  const int64_t N = 4096, V = 1000, uploads = 12, G = 1024;  // ids per upload, vocabulary, GEMM size
  std::vector<float> table(V);
  for (int64_t v = 0; v < V; ++v) table[v] = static_cast<float>(v);  // row v of the (V, 1) table is v
  const float* gtable = upload(table, 0);
  // A GEMM of G^3 per upload keeps the compute stream busy while the host queues the next uploads.
  std::vector<float> a = values(G * G, 1), b = values(G * G, 2);
  const float *ga = upload(a, 0), *gb = upload(b, 0);
  float* gc = upload(std::vector<float>(G * G, 0.0f), 0);
  std::vector<float*> outs;
  for (int64_t u = 0; u < uploads; ++u) outs.push_back(upload(std::vector<float>(N, -1.0f), 0));

  InputStager stager(gpu_, InputStager::bytes_for({N * sizeof(int32_t), 7 * sizeof(int32_t)}));
  std::vector<int32_t> ids(N), extra(7);
  for (int64_t u = 0; u < uploads; ++u) {
    for (int64_t i = 0; i < N; ++i) ids[i] = static_cast<int32_t>((u * 131 + i * 7) % V);
    for (int64_t i = 0; i < 7; ++i) extra[i] = static_cast<int32_t>(u * 10 + i);
    const std::vector<void*> dev = stager.upload({{ids.data(), ids.size() * sizeof(int32_t)},
                                                  {extra.data(), extra.size() * sizeof(int32_t)}});
    ASSERT_EQ(dev.size(), 2u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(dev[1]) % InputStager::kAlign, 0u);
    std::fill(ids.begin(), ids.end(), -7);  // the stager copied the sources: they may change now
    cuda::gemm(gpu_, DType::f32, false, false, G, G, G, 1.0f, ga, G, 0, gb, G, 0, 0.0f, gc, G, 0, 1);
    cuda::embedding_forward(gpu_, DType::f32, outs[u], static_cast<const int32_t*>(dev[0]), gtable, N, V, 1);
  }
  for (int64_t u = 0; u < uploads; ++u) {
    const std::vector<float> got = download(outs[u], N);
    for (int64_t i = 0; i < N; ++i)
      ASSERT_EQ(got[i], static_cast<float>((u * 131 + i * 7) % V)) << "upload " << u << " id " << i;
  }
}

TEST_F(InputStagerParity, RefusesAnUploadLargerThanASlot) {
  InputStager stager(gpu_, 1024);
  std::vector<int32_t> ids(512);
  EXPECT_THROW(stager.upload({{ids.data(), ids.size() * sizeof(int32_t)}}), Error);
}

}  // namespace
}  // namespace weft::test
