// Reader of the reference fixtures written by the PyTorch scripts in tools/reference/ (format in
// tools/reference/transformer_reference.py): "config" key/value lines and named f32/i32 tensors.
#pragma once

#include <map>
#include <string>
#include <vector>

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

}  // namespace weft::test
