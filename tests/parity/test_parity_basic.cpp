// CPU-vs-CUDA parity for the kernels the CUDA backend has: GEMM (matmul, linear) and pointwise ops.
// Every case reports SKIPPED without a GPU.
#include <string>

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

struct MatmulCase {
  Shape a, b;
  bool ta, tb;
};

// Every transpose combination, batched, and shared-B forms. Odd sizes put batch matrices at addresses
// that are only 4-byte (f32) or 2-byte (bf16) aligned, which cuBLASLt must be told about; a shared B
// with A transposed is a strided batch with a zero stride.
const MatmulCase kMatmulCases[] = {
    {{3, 7}, {7, 5}, false, false},       {{7, 3}, {7, 5}, true, false},   {{3, 7}, {5, 7}, false, true},
    {{7, 3}, {5, 7}, true, true},         {{2, 3, 7}, {2, 7, 5}, false, false}, {{2, 7, 3}, {2, 5, 7}, true, true},
    {{2, 3, 3, 7}, {7, 5}, false, false}, {{3, 7, 3}, {7, 5}, true, false},  {{3, 7, 3}, {5, 7}, true, true},
    {{1, 1}, {1, 33}, false, false},      {{65, 130}, {130, 72}, false, false},
};

TEST(Parity, MatmulTransposedBatchedSharedF32AndBf16) {
  for (DType dt : {DType::f32, DType::bf16}) {
    for (const MatmulCase& c : kMatmulCases) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + c.a.str() + (c.ta ? "^T" : "") + " @ " + c.b.str() +
                   (c.tb ? "^T" : ""));
      auto in = f32_inputs({c.a, c.b});
      // bf16: products of 2^-9-rounded inputs summed over K <= 130 terms of size <= 1.
      Tolerance tol = dt == DType::bf16 ? Tolerance{1e-1, 3e-2} : default_tolerance(dt);
      WEFT_PARITY(in, ([c](Graph& g, const std::vector<Var>& v) {
                    return std::vector<Var>{ops::matmul(g, v[0], v[1], c.ta, c.tb)};
                  }),
                  dt, tol);
    }
  }
}

TEST(Parity, LinearLongBatchF32) {
  // 300 rows: the bias gradient is a long column reduction, split in chunks on the GPU.
  auto in = f32_inputs({{300, 40}, {24, 40}, {24}});
  WEFT_PARITY(in, ([](Graph& g, const std::vector<Var>& v) {
                return std::vector<Var>{ops::linear(g, v[0], v[1], v[2])};
              }),
              DType::f32, default_tolerance(DType::f32));
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

TEST(Parity, ConcatSplitReshapeF32AndBf16) {
  // concat and split are strided block copies (copy2d) forward and backward; reshape is a view.
  for (DType dt : {DType::f32, DType::bf16}) {
    for (int axis : {0, 1, 2}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " axis " + std::to_string(axis));
      Shape a{3, 5, 7}, b{3, 5, 7};
      b.dims[axis] = 4;  // uneven parts along the axis
      auto in = f32_inputs({a, b});
      WEFT_PARITY(in, ([axis](Graph& g, const std::vector<Var>& v) {
                    Var cat = ops::concat(g, {v[0], v[1], v[0]}, axis);
                    std::vector<Var> parts = ops::split(g, cat, {2, cat->value.shape[axis] - 2}, axis);
                    return std::vector<Var>{cat, parts[0], ops::reshape(g, parts[1], Shape{parts[1]->value.numel()})};
                  }),
                  // f32: exact copies and sums of two cotangents; bf16: inputs and cotangents rounded to 2^-8 relative.
                  dt, (dt == DType::bf16 ? Tolerance{1e-2, 1e-2} : Tolerance{1e-6, 1e-6}));
    }
  }
}

}  // namespace
}  // namespace weft::test
