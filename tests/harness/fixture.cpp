// Fixture reader.
#include "tests/harness/fixture.h"

#include <fstream>
#include <sstream>

#include "runtime/check.h"
#include "tests/harness/gradcheck.h"

#include <gtest/gtest.h>
#include <algorithm>
#include <cmath>

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

void load_fixture_params(const Fixture& fx, ParamStore& store) {
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& info = store.info(id);
    const FixtureTensor& t = fx.at(info.name);
    ASSERT_EQ(t.shape, info.shape) << info.name;
    std::vector<double> v(t.f32.begin(), t.f32.end());
    OwnedTensor host = from_values(store.dtype(), info.shape, v);
    device_copy(store.device(), store.value(id).data, Device::cpu, host.tensor().data, host.tensor().nbytes());
  }
}

FixtureTokens fixture_tokens(const Fixture& fx) {
  const FixtureTensor &in = fx.at("inputs"), &tg = fx.at("targets");
  std::vector<double> ids(in.i32.begin(), in.i32.end()), tgt(tg.i32.begin(), tg.i32.end());
  return FixtureTokens{from_values(DType::i32, in.shape, ids), from_values(DType::i32, tg.shape, tgt)};
}

double max_rel_error(const std::vector<double>& got, const std::vector<float>& ref) {
  EXPECT_EQ(got.size(), ref.size());
  double err = 0, scale = 0;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    err = std::max(err, std::fabs(got[i] - ref[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(ref[i])));
  }
  return scale > 0 ? err / scale : err;
}

}  // namespace weft::test
