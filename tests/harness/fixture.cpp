// Fixture reader.
#include "tests/harness/fixture.h"

#include <fstream>
#include <sstream>

#include "runtime/check.h"

#ifndef WEFT_SOURCE_DIR
#define WEFT_SOURCE_DIR "."
#endif

namespace weft::test {

const FixtureTensor& Fixture::at(const std::string& name) const {
  auto it = tensors.find(name);
  WEFT_CHECK(it != tensors.end(), "[fixture] no tensor '", name, "'");
  return it->second;
}

std::string fixture_dir() { return std::string(WEFT_SOURCE_DIR) + "/tests/fixtures"; }

Fixture load_fixture(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  WEFT_CHECK(in, "[fixture] cannot open '", path, "'");
  Fixture fx;
  std::vector<std::string> order;
  std::string line;
  while (std::getline(in, line) && line != "END") {
    std::istringstream ls(line);
    std::string kind, name;
    ls >> kind >> name;
    if (kind == "config") {
      std::string value;
      ls >> value;
      fx.config[name] = value;
    } else if (kind == "tensor") {
      std::string dt;
      int ndim;
      ls >> dt >> ndim;
      FixtureTensor t;
      t.dtype = dt == "i32" ? DType::i32 : DType::f32;
      for (int i = 0; i < ndim; ++i) {
        int64_t d;
        ls >> d;
        t.shape.dims[t.shape.rank++] = d;
      }
      WEFT_CHECK(ls, "[fixture] ", path, ": malformed line '", line, "'");
      fx.tensors[name] = t;
      order.push_back(name);
    } else {
      WEFT_FAIL("[fixture] ", path, ": unknown line '", line, "'");
    }
  }
  WEFT_CHECK(line == "END", "[fixture] ", path, ": missing END");
  for (const auto& name : order) {
    FixtureTensor& t = fx.tensors[name];
    size_t n = static_cast<size_t>(t.shape.numel());
    if (t.dtype == DType::i32) {
      t.i32.resize(n);
      in.read(reinterpret_cast<char*>(t.i32.data()), n * 4);
    } else {
      t.f32.resize(n);
      in.read(reinterpret_cast<char*>(t.f32.data()), n * 4);
    }
    WEFT_CHECK(in, "[fixture] ", path, ": truncated payload at tensor '", name, "'");
  }
  return fx;
}

}  // namespace weft::test
