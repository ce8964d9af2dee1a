// The cuBLASLt handle of one Exec and its cache of matmul plans (descriptors, layouts and the chosen
// algorithm), keyed by the GEMM's shape, so heuristics run once per shape.
#pragma once

#include <cublasLt.h>

#include <cstdint>
#include <map>
#include <tuple>

namespace weft::cuda {

struct GemmKey {
  int dt;
  bool ta, tb;
  int64_t M, N, K, lda, ldb, ldc, stride_a, stride_b, stride_c, batch;
  auto tie() const { return std::tie(dt, ta, tb, M, N, K, lda, ldb, ldc, stride_a, stride_b, stride_c, batch); }
  bool operator<(const GemmKey& o) const { return tie() < o.tie(); }
};

struct GemmPlan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
};

struct CublasLtContext {
  CublasLtContext();
  ~CublasLtContext();
  CublasLtContext(const CublasLtContext&) = delete;
  CublasLtContext& operator=(const CublasLtContext&) = delete;
  cublasLtHandle_t handle = nullptr;
  std::map<GemmKey, GemmPlan> plans;
};

}  // namespace weft::cuda
