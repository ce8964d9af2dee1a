// CPU-vs-CUDA parity for the kernels the CUDA backend has: GEMM (matmul, linear) and pointwise ops.
// Every case reports SKIPPED without a GPU.
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

std::vector<ParityInput> f32_inputs(std::initializer_list<Shape> shapes) {
  std::vector<ParityInput> in;
  uint64_t seed = 1;
  for (const Shape& s : shapes) in.push_back({random_f32(s, seed++), true});
  return in;
}

TEST(Parity, MatmulF32) {
  auto in = f32_inputs({{2, 33, 17}, {2, 17, 9}});
  WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::matmul(g, v[0], v[1])}; }),
              DType::f32, default_tolerance(DType::f32));
}

TEST(Parity, LinearBf16) {
  auto in = f32_inputs({{64, 96}, {80, 96}, {80}});
  WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                return std::vector<Var>{ops::linear(g, v[0], v[1], v[2])};
              }),
              DType::bf16, (Tolerance{6e-2, 3e-2}));
}

TEST(Parity, UnaryOpsF32) {
  for (int op = 0; op < static_cast<int>(UnaryOp::count); ++op) {
    UnaryOp u = static_cast<UnaryOp>(op);
    bool positive = u == UnaryOp::log || u == UnaryOp::rsqrt;
    std::vector<ParityInput> in;
    in.push_back({random_f32({7, 33}, 3, positive ? 0.5 : -2.0, 2.0), true});
    SCOPED_TRACE(unary_name(u));
    WEFT_PARITY(in, ([u](Graph& g, const std::vector<Var>& v) { return std::vector<Var>{ops::unary(g, u, v[0])}; }),
                DType::f32, default_tolerance(DType::f32));
  }
}

}  // namespace
}  // namespace weft::test
