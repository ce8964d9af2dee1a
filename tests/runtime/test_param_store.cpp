// ParamStore initialisation details the model families rely on: a sharded parameter (an expert-parallel
// rank's experts) holds exactly its rows of the unsharded tensor drawn from the same seed, and the two
// selector renorms of MoEUT (spec moeut A.6) give the row norms and standard deviations they promise.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/param_store.h"

namespace weft {
namespace {

std::vector<float> values_of(const ParamStore& s, int id) {
  const Tensor t = s.value(id);
  const float* p = static_cast<const float*>(t.data);
  return std::vector<float>(p, p + t.numel());
}

double std_of(const std::vector<double>& v) {  // unbiased, as torch.std
  double m = 0, ss = 0;
  for (double x : v) m += x;
  m /= v.size();
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / (v.size() - 1));
}

TEST(ParamStore, ShardHoldsItsRowsOfTheFullTensor) {
  ParamStore full;
  const int f = full.add("experts", {6, 3, 4}, Init::Normal(0.5), true, ParamGroup::expert);
  full.finalize();
  full.initialize(7);
  const std::vector<float> all = values_of(full, f);
  for (int64_t begin : {0, 2, 4}) {  // E = 3 shards of two experts each
    ParamStore part;
    part.add("other", {5}, Init::Normal(1.0));
    const int p = part.add("experts", {2, 3, 4}, Init::Normal(0.5), true, ParamGroup::expert, ShardOf{begin, 6});
    part.finalize();
    part.initialize(7);
    EXPECT_EQ(part.info(p).full_shape(), (Shape{6, 3, 4}));
    const std::vector<float> mine = values_of(part, p);
    for (size_t i = 0; i < mine.size(); ++i) ASSERT_EQ(mine[i], all[begin * 12 + i]) << "shard at " << begin;
  }
}

TEST(ParamStore, ShardOutsideTheTensorIsAnError) {
  ParamStore s;
  EXPECT_THROW(s.add("experts", {4, 2}, Init::Zeros(), true, ParamGroup::expert, ShardOf{4, 6}), Error);
}

TEST(ParamStore, RenormKeepStdGivesEqualRowNormsAndTheOriginalStd) {
  ParamStore plain, renormed;
  const int a = plain.add("sel", {7, 20}, Init::Normal(0.3));
  const int b = renormed.add("sel", {7, 20}, Init::Normal(0.3).renormed(Init::keep_std));
  plain.finalize(), renormed.finalize();
  plain.initialize(3), renormed.initialize(3);
  const std::vector<float> before_f = values_of(plain, a);
  std::vector<double> before(before_f.begin(), before_f.end());
  const std::vector<float> after_f = values_of(renormed, b);
  std::vector<double> after(after_f.begin(), after_f.end());
  EXPECT_NEAR(std_of(after), std_of(before), 1e-6);
  double norm0 = 0;
  for (int r = 0; r < 7; ++r) {
    double n = 0;
    for (int c = 0; c < 20; ++c) n += after[r * 20 + c] * after[r * 20 + c];
    if (r == 0) norm0 = std::sqrt(n);
    EXPECT_NEAR(std::sqrt(n), norm0, 1e-5) << "row " << r;
    // every row points the way it did before
    double dot = 0, nb = 0;
    for (int c = 0; c < 20; ++c) dot += after[r * 20 + c] * before[r * 20 + c], nb += before[r * 20 + c] * before[r * 20 + c];
    EXPECT_NEAR(dot / (std::sqrt(n) * std::sqrt(nb)), 1.0, 1e-6);
  }
}

TEST(ParamStore, RenormRowStdScalesRowsByTheirOwnStd) {
  ParamStore plain, renormed;
  const int a = plain.add("sel", {5, 16}, Init::Normal(0.2));
  const int b = renormed.add("sel", {5, 16}, Init::Normal(0.2).renormed(Init::row_std));
  plain.finalize(), renormed.finalize();
  plain.initialize(11), renormed.initialize(11);
  const std::vector<float> bf = values_of(plain, a), af = values_of(renormed, b);
  // rows unit-normalised, then x std_row / std(unit rows): row norms are proportional to the rows' stds
  std::vector<double> unit(bf.size()), row_std(5);
  for (int r = 0; r < 5; ++r) {
    std::vector<double> row(bf.begin() + r * 16, bf.begin() + (r + 1) * 16);
    row_std[r] = std_of(row);
    double n = 0;
    for (double x : row) n += x * x;
    for (int c = 0; c < 16; ++c) unit[r * 16 + c] = row[c] / std::sqrt(n);
  }
  const double su = std_of(unit);
  for (size_t i = 0; i < af.size(); ++i) EXPECT_NEAR(af[i], unit[i] * row_std[i / 16] / su, 1e-6);
}

}  // namespace
}  // namespace weft
