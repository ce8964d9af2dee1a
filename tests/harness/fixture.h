// Reader of the reference fixtures written by the PyTorch scripts in tools/reference/ (format in
// tools/reference/transformer_reference.py): "config" key/value lines and named f32/i32 tensors.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/memory.h"
#include "runtime/param_store.h"
#include "runtime/tensor.h"

namespace weft::test {

struct FixtureTensor {
  DType dtype;
  Shape shape;
  std::vector<float> f32;
  std::vector<int32_t> i32;
};

struct Fixture {
  std::map<std::string, std::string> config;
  std::map<std::string, FixtureTensor> tensors;
  const FixtureTensor& at(const std::string& name) const;  // throws naming the tensor
};

Fixture load_fixture(const std::string& path);  // throws weft::Error naming the file and problem
std::string fixture_dir();                        // the repository's tests/fixtures

// ---- what the model reference tests share (tests/models/test_*_reference.cpp)
// Copies the fixture's tensor of every parameter of `store` (same name, same shape, else a test failure)
// into the store, converted to its dtype.
void load_fixture_params(const Fixture& fx, ParamStore& store);
// The fixture's "inputs" and "targets" (B, T) i32.
struct FixtureTokens {
  OwnedTensor inputs, targets;
};
FixtureTokens fixture_tokens(const Fixture& fx);
// max |got - ref| / max |ref| over a tensor (the absolute error when ref is all zeros).
double max_rel_error(const std::vector<double>& got, const std::vector<float>& ref);

}  // namespace weft::test
