// Token-representation norms (launch/analyze_norms.h, issue 15): `weft analyze norms` and `weft train
// --log-norms-every` through the binary on the built-in corpus. Values are checked against direct
// computations from the checkpoint and the data (embedding / head row norms, layer-0 norms of a model without
// positions = embedding row norms of the stored ids, token counts, causal mixing mass, ALiBi entropy at init),
// Spearman against known permutations, every registered family, appending without duplicates on resume,
// measuring does not change training, log-spaced checkpoint retention, and refusals (exit 2 naming the flag).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "data/split.h"
#include "launch/analyze_norms.h"
#include "launch/checkpoint.h"
#include "runtime/checkpoint/h5.h"
#include "runtime/checkpoint/reader.h"
#include "tests/cli/family_runs.h"
#include "tests/harness/process.h"

namespace {

namespace fs = std::filesystem;
using weft::test::ProcessResult;

ProcessResult sh(const std::string& cmd) { return weft::test::run_shell(cmd); }
std::string weft() { return WEFT_BINARY; }

std::vector<double> read_f64(const weft::ckpt::H5File& f, const std::string& name) {
  const weft::Shape s = f.shape_of(name);
  std::vector<double> v(static_cast<size_t>(s.numel()));
  f.read(name, weft::DType::f64, s, v.data());
  return v;
}

std::vector<double> param(const std::string& checkpoint, const std::string& name, weft::Shape& shape) {
  weft::ckpt::CheckpointReader r(checkpoint);
  shape = r.shape_of("params/" + name);
  std::vector<float> f(static_cast<size_t>(shape.numel()));
  r.read("params/" + name, weft::DType::f32, shape, f.data());
  return std::vector<double>(f.begin(), f.end());
}

std::vector<double> row_norms(const std::vector<double>& x, int64_t C) {
  std::vector<double> n(x.size() / static_cast<size_t>(C));
  for (size_t r = 0; r < n.size(); ++r) {
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += x[r * C + c] * x[r * C + c];
    n[r] = std::sqrt(s);
  }
  return n;
}

int json_lines(const std::string& out) {
  int n = 0;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) n += !l.empty() && l[0] == '{';
  return n;
}

std::vector<std::string> checkpoint_names(const std::string& run) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(run + "/checkpoints"))
    if (e.is_directory()) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class AnalyzeNorms : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_norms_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ProcessResult r = sh(weft() + " prepare --builtin stories --tokens 60000 --out " + dir_ + "/data");
    ASSERT_EQ(r.code, 0) << r.out;
    r = sh(train("--model mixer --d-model 16 --n-layers 2", "mx", "--steps 20 --save-every 10"));
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string train(const std::string& model, const std::string& run, const std::string& extra) {
    return weft() + " train " + model + " --data " + dir_ + "/data --out " + dir_ + "/" + run +
           " --seq-len 16 --batch-size 4 --warmup 2 --eval-every 0 --eval-batches 1 --log-every 10 --threads 1 " + extra;
  }
  static std::string dir_;
};
std::string AnalyzeNorms::dir_;

TEST(NormsSpearman, KnownPermutationsAndTies) {
  using weft::launch::spearman;
  const std::vector<double> x{1, 2, 3, 4, 5};
  EXPECT_DOUBLE_EQ(spearman(x, {10, 20, 30, 40, 50}), 1.0);
  EXPECT_DOUBLE_EQ(spearman(x, {5, 4, 3, 2, 1}), -1.0);
  // (3, 1, 4, 5, 2): sum d^2 = 4 + 1 + 1 + 1 + 9 = 16, rho = 1 - 6 * 16 / (5 * 24) = 0.2.
  EXPECT_NEAR(spearman(x, {3, 1, 4, 5, 2}), 0.2, 1e-12);
  // Ties take their average rank: y ranks (0.5, 0.5, 2, 3) -> Pearson of ranks.
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {7, 7, 8, 9}), 0.9486832980505138, 1e-12);
  EXPECT_TRUE(std::isnan(spearman(x, {1, 1, 1, 1, 1})));
  EXPECT_NEAR(weft::launch::percentile_sorted({1, 2, 3, 4}, 0.5), 2.5, 1e-12);
}

TEST(NormsRetention, LogSpacedKeepsFirstAtOrAfterEachPowerOfTwo) {
  std::vector<int64_t> steps;
  for (int64_t s = 3; s <= 60; s += 3) steps.push_back(s);  // save-every 3
  // Marks 3, 6, 12, 24, 48: kept 3, 6, 12, 24, 48, and the last two (57, 60).
  const std::vector<int64_t> removed = weft::launch::checkpoints_to_remove(steps, 2, 3);
  std::vector<int64_t> kept;
  std::set_difference(steps.begin(), steps.end(), removed.begin(), removed.end(), std::back_inserter(kept));
  EXPECT_EQ(kept, (std::vector<int64_t>{3, 6, 12, 24, 48, 57, 60}));
  // Without the option: the newest K only. A resumed run's off-grid step counts as "at or after".
  EXPECT_EQ(weft::launch::checkpoints_to_remove({5, 10, 15}, 1, 0), (std::vector<int64_t>{5, 10}));
  EXPECT_EQ(weft::launch::checkpoints_to_remove({5, 7, 10, 15}, 1, 5), (std::vector<int64_t>{7}));
}

TEST_F(AnalyzeNorms, ValuesMatchDirectComputation) {
  const std::string out = dir_ + "/mx_norms.h5", plots = dir_ + "/plots";
  ProcessResult r = sh(weft() + " analyze norms --threads 1 --all-checkpoints --checkpoint " + dir_ + "/mx --out " +
                       out + " --plot-dir " + plots);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(json_lines(r.out), 2) << r.out;
  for (const char* svg : {"norm_vs_position.svg", "norm_vs_frequency.svg", "norms_over_training.svg"})
    EXPECT_TRUE(fs::exists(plots + "/" + svg)) << svg;
  weft::ckpt::H5File f = weft::ckpt::H5File::open_read(out);
  const int64_t B = 8, T = 16, V = 257, C = 16;
  ASSERT_EQ(f.shape_of("eval_ids"), (weft::Shape{B, T + 1}));
  std::vector<int32_t> ids(static_cast<size_t>(B * (T + 1)));
  f.read("eval_ids", weft::DType::i32, {B, T + 1}, ids.data());

  // token_count: the train split's frequencies.
  std::vector<int64_t> count(static_cast<size_t>(V)), expect(static_cast<size_t>(V), 0);
  f.read("token_count", weft::DType::i64, {V}, count.data());
  for (const auto& s : weft::data::open_split(dir_ + "/data", "train", V))
    for (int64_t i = 0; i < s->size(); ++i) ++expect[static_cast<size_t>(s->at(i))];
  EXPECT_EQ(count, expect);

  for (const int64_t step : {10, 20}) {
    const std::string ck = dir_ + "/mx/checkpoints/" + (step == 10 ? "step_00000010" : "step_00000020");
    const std::string g = "diag/step_" + std::to_string(step) + "/";
    weft::Shape es, hs, ws;
    const std::vector<double> E = param(ck, "tok_emb.weight", es), Hd = param(ck, "lm_head.weight", hs);
    const std::vector<double> emb = read_f64(f, g + "emb_row_norm"), unemb = read_f64(f, g + "unemb_row_norm");
    const std::vector<double> e_direct = row_norms(E, C), h_direct = row_norms(Hd, C);
    ASSERT_EQ(emb.size(), static_cast<size_t>(V));
    for (int64_t v = 0; v < V; ++v) {
      EXPECT_NEAR(emb[v], e_direct[v], 1e-9 * (1 + e_direct[v])) << "emb_row_norm " << v;
      EXPECT_NEAR(unemb[v], h_direct[v], 1e-9 * (1 + h_direct[v])) << "unemb_row_norm " << v;
    }
    // Layer 0 of a model without positions: the embedding rows of the stored ids.
    const std::vector<double> pos0 = read_f64(f, g + "h_norm_pos/layer_0");
    ASSERT_EQ(f.shape_of(g + "h_norm_pos/layer_0"), (weft::Shape{T, 4}));
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> col;
      for (int64_t b = 0; b < B; ++b) col.push_back(e_direct[ids[b * (T + 1) + t]]);
      std::sort(col.begin(), col.end());
      const double mean = std::accumulate(col.begin(), col.end(), 0.0) / B;
      EXPECT_NEAR(pos0[t * 4 + 0], mean, 1e-5 * mean) << "t " << t;
      EXPECT_NEAR(pos0[t * 4 + 2], 0.5 * (col[3] + col[4]), 1e-5 * mean) << "p50 at t " << t;
      EXPECT_LE(pos0[t * 4 + 1], pos0[t * 4 + 2]);
      EXPECT_LE(pos0[t * 4 + 2], pos0[t * 4 + 3]);
    }
    EXPECT_TRUE(f.has(g + "h_norm_pos/layer_2"));
    EXPECT_FALSE(f.has(g + "h_norm_pos/layer_3"));
    // Counts by current token: the batch's inputs.
    const std::vector<double> tok = read_f64(f, g + "h_norm_tok"), next = read_f64(f, g + "h_norm_next_tok");
    double total = 0, total_next = 0;
    for (int64_t v = 0; v < V; ++v) {
      int64_t n = 0;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) n += ids[b * (T + 1) + t] == v;
      EXPECT_EQ(tok[v * 2 + 1], static_cast<double>(n)) << "token " << v;
      total += tok[v * 2 + 1];
      total_next += next[v * 2 + 1];
    }
    EXPECT_EQ(total, B * T);
    EXPECT_EQ(total_next, B * T);
    // The causal mixing mass of layer 1: sum_{j <= i} |W[i, j]|.
    const std::vector<double> W = param(ck, "blocks.1.mix.weight", ws), mix = read_f64(f, g + "mix_row_l1/layer_1");
    ASSERT_EQ(f.shape_of(g + "mix_row_l1/layer_1"), (weft::Shape{1, T}));
    for (int64_t i = 0; i < T; ++i) {
      double s = 0;
      for (int64_t j = 0; j <= i; ++j) s += std::fabs(W[i * ws[1] + j]);
      EXPECT_NEAR(mix[i], s, 1e-6 * (1 + s)) << "row " << i;
    }
    for (const char* name : {"update_norm", "grad_h_norm"}) {
      const std::vector<double> v = read_f64(f, g + name);
      EXPECT_EQ(v.size(), std::string(name) == "update_norm" ? 2u : 3u) << name;
      for (double x : v) EXPECT_TRUE(std::isfinite(x) && x > 0) << name;
    }
    EXPECT_EQ(f.dataset_attr_string(g + "update_norm", "source"), "blocks.<l>.mix");
    const double rho = f.dataset_attr_double(g + "emb_row_norm", "spearman_log_freq");
    std::vector<double> logf(count.size());
    for (size_t v = 0; v < count.size(); ++v) logf[v] = std::log1p(static_cast<double>(count[v]));
    EXPECT_NEAR(rho, weft::launch::spearman(e_direct, logf), 1e-9);
  }
  // The held-out batch is reproducible: the same seed draws the same ids, another seed other ids.
  r = sh(weft() + " analyze norms --threads 1 --checkpoint " + dir_ + "/mx --out " + dir_ + "/again.h5");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<int32_t> again(ids.size());
  weft::ckpt::H5File::open_read(dir_ + "/again.h5").read("eval_ids", weft::DType::i32, {B, T + 1}, again.data());
  EXPECT_EQ(again, ids);
  r = sh(weft() + " analyze norms --threads 1 --seed 2 --checkpoint " + dir_ + "/mx --out " + dir_ + "/other.h5");
  ASSERT_EQ(r.code, 0) << r.out;
  weft::ckpt::H5File::open_read(dir_ + "/other.h5").read("eval_ids", weft::DType::i32, {B, T + 1}, again.data());
  EXPECT_NE(again, ids);
}

// At initialisation q . k is tiny, so each ALiBi head's attention is softmax_j(-m_h (i - j)): its entropy
// is known in closed form, which checks the entropy and the position bias together.
TEST_F(AnalyzeNorms, AlibiEntropyAtInitFollowsTheSlopes) {
  ProcessResult r = sh(train("--model transformer --d-model 16 --n-layers 2 --n-heads 2 --position alibi", "alibi",
                             "--steps 2 --log-norms-every 1"));
  ASSERT_EQ(r.code, 0) << r.out;
  weft::ckpt::H5File f = weft::ckpt::H5File::open_read(dir_ + "/alibi/norms.h5");
  const std::vector<double> ent = read_f64(f, "diag/step_0/attn_entropy/layer_0");
  ASSERT_EQ(f.shape_of("diag/step_0/attn_entropy/layer_0"), (weft::Shape{2, 16}));
  const double slopes[2] = {std::pow(2.0, -4.0), std::pow(2.0, -8.0)};  // 2 heads: 2^(-8h/2)
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < 16; ++i) {
      double z = 0, zl = 0;
      for (int j = 0; j <= i; ++j) {
        const double l = -slopes[h] * (i - j);
        z += std::exp(l);
        zl += std::exp(l) * l;
      }
      EXPECT_NEAR(ent[h * 16 + i], std::log(z) - zl / z, 0.02) << "head " << h << " position " << i;
    }
  EXPECT_TRUE(f.has("diag/step_0/h_norm_pos/final"));
  EXPECT_TRUE(f.has("diag/step_1/attn_entropy/layer_1"));
}

// --attention-window 2 (stored in config.ini): query i sees keys i - 1 and i only, so no head's entropy can pass
// log 2 (without the window, late positions of a near-uniform init would reach log(i + 1)), and from
// position 1 on each head spreads over two keys (entropy > 0 for some head). The transformer and the hybrid,
// in the training log and in `weft analyze norms`.
TEST_F(AnalyzeNorms, AttentionWindowBoundsTheEntropy) {
  for (const std::string model : {"transformer", "hybrid"}) {
    const std::string run = "window_" + model;
    ProcessResult r = sh(train("--model " + model + " --d-model 16 --n-layers 2 --n-heads 2 --attention-window 2", run,
                               "--steps 4 --log-norms-every 4"));
    ASSERT_EQ(r.code, 0) << r.out;
    r = sh(weft() + " analyze norms --threads 1 --checkpoint " + dir_ + "/" + run + " --out " + dir_ + "/" + run +
           "/a.h5");
    ASSERT_EQ(r.code, 0) << r.out;
    for (const std::string file : {"/norms.h5", "/a.h5"}) {
      weft::ckpt::H5File f = weft::ckpt::H5File::open_read(dir_ + "/" + run + file);
      for (const std::string layer : {"layer_0", "layer_1"}) {
        const std::string name = "diag/step_4/attn_entropy/" + layer;
        ASSERT_EQ(f.shape_of(name), (weft::Shape{2, 16})) << model << file << " " << name;
        const std::vector<double> ent = read_f64(f, name);
        for (int i = 0; i < 16; ++i) {
          EXPECT_LE(std::max(ent[i], ent[16 + i]), std::log(2.0) + 1e-9) << model << file << " " << layer << " " << i;
          if (i >= 1) {
            EXPECT_GT(std::max(ent[i], ent[16 + i]), 1e-3) << model << file << " " << layer << " " << i;
          }
        }
        EXPECT_NEAR(ent[0], 0.0, 1e-12) << "position 0 sees one key";
      }
    }
  }
}

TEST_F(AnalyzeNorms, TrainingLogAppendsWithoutDuplicatesAndChangesNothing) {
  ProcessResult r = sh(train("--model mixer --d-model 16 --n-layers 2", "log", "--steps 12 --save-every 4 --log-norms-every 5"));
  ASSERT_EQ(r.code, 0) << r.out;
  // Measuring between steps leaves training as it was: the same weights as a run without the log.
  r = sh(train("--model mixer --d-model 16 --n-layers 2", "nolog", "--steps 12 --save-every 4"));
  ASSERT_EQ(r.code, 0) << r.out;
  weft::Shape s1, s2;
  EXPECT_EQ(param(dir_ + "/log/checkpoints/step_00000012", "blocks.0.mix.weight", s1),
            param(dir_ + "/nolog/checkpoints/step_00000012", "blocks.0.mix.weight", s2));
  // Resume from step 8 (step 10 is already in the file: kept, not written again) and go on to 16.
  r = sh(train("--model mixer --d-model 16 --n-layers 2", "log",
               "--steps 16 --save-every 4 --log-norms-every 5 --resume " + dir_ + "/log/checkpoints/step_00000008"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("norms step 10 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("norms step 15 "), std::string::npos) << r.out;
  weft::ckpt::H5File f = weft::ckpt::H5File::open_read(dir_ + "/log/norms.h5");
  std::vector<int64_t> steps;
  for (const std::string& n : f.dataset_names())
    if (n.size() > 5 && n.substr(n.size() - 5) == "/loss") steps.push_back(std::stoll(n.substr(10, n.size() - 15)));
  std::sort(steps.begin(), steps.end());
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 5, 10, 12, 15, 16}));
}

TEST_F(AnalyzeNorms, LogSpacedRetentionKeepsTheRightSteps) {
  ProcessResult r = sh(train("--model bag", "spaced", "--steps 20 --save-every 2 --keep-checkpoints 1 --keep-log-spaced"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(checkpoint_names(dir_ + "/spaced"),
            (std::vector<std::string>{"step_00000002", "step_00000004", "step_00000008", "step_00000016",
                                      "step_00000020"}));
}

TEST_F(AnalyzeNorms, BadInputExitsTwoNamingIt) {
  const std::string base = weft() + " analyze norms --threads 1 ";
  const std::string ck = " --checkpoint " + dir_ + "/mx", out = " --out " + dir_ + "/bad.h5";
  struct Case {
    std::string args, names;
  } cases[] = {
      {ck, "--out"},
      {out + " --checkpoint " + dir_ + "/missing", "--checkpoint"},
      {ck + out + " --batch-size 0", "--batch-size"},
      {ck + out + " --seq-len 99", "--seq-len"},
      {ck + " --out " + dir_ + "/no/such/folder/x.h5", "--out"},
      {" --checkpoint " + dir_ + "/mx/checkpoints/step_00000010 --all-checkpoints" + out, "--all-checkpoints"},
  };
  for (const Case& c : cases) {
    ProcessResult r = sh(base + c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.names), std::string::npos) << c.args << "\n" << r.out;
  }
  ProcessResult r = sh(train("--model bag", "badlog", "--steps 2 --log-norms-every -1"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--log-norms-every"), std::string::npos) << r.out;
  r = sh(train("--model bag", "badkeep", "--steps 2 --keep-log-spaced"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--keep-log-spaced"), std::string::npos) << r.out;
  // A data folder without a val split has no held-out batch.
  fs::create_directories(dir_ + "/trainonly");
  for (const auto& e : fs::directory_iterator(dir_ + "/data"))
    if (e.path().filename().string().find("val") == std::string::npos) fs::copy(e.path(), dir_ + "/trainonly/" + e.path().filename().string());
  r = sh(weft() + " train --model bag --data " + dir_ + "/trainonly --out " + dir_ + "/noval --seq-len 16 --batch-size 4 "
         "--steps 2 --eval-every 0 --threads 1 --log-norms-every 1");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--log-norms-every"), std::string::npos) << r.out;
}

// Every registered family, each tiny test configuration: a short run with the log, then analyze norms.
class NormsFamilies : public ::testing::TestWithParam<weft::test::FamilyCase> {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_norms_fam_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ProcessResult r = sh(weft() + " prepare --builtin stories --tokens 40000 --out " + dir_ + "/data");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string dir_;
};
std::string NormsFamilies::dir_;

TEST_P(NormsFamilies, EveryFamilyRecordsItsLayers) {
  const weft::test::FamilyCase& c = GetParam();
  const std::string run = dir_ + "/" + weft::test::family_case_name(c);
  ProcessResult r = sh(weft() + " train --data " + dir_ + "/data --out " + run + weft::test::family_args(c) +
                       " --batch-size 2 --threads 1 --eval-every 0 --eval-batches 0 --log-every 1 --warmup 1 --steps 2 "
                       "--log-norms-every 2");
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(weft() + " analyze norms --threads 1 --batch-size 3 --checkpoint " + run + " --out " + run + "/a.h5");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(json_lines(r.out), 1) << r.out;
  for (const std::string& file : {run + "/norms.h5", run + "/a.h5"}) {
    weft::ckpt::H5File f = weft::ckpt::H5File::open_read(file);
    const std::string g = "diag/step_2/";
    ASSERT_TRUE(f.has(g + "update_norm")) << file;
    const int64_t N = f.shape_of(g + "update_norm")[0];
    EXPECT_GE(N, 1);
    EXPECT_EQ(f.shape_of(g + "grad_h_norm")[0], N + 1);
    EXPECT_TRUE(f.has(g + "h_norm_pos/layer_" + std::to_string(N)));
    EXPECT_FALSE(f.has(g + "h_norm_pos/layer_" + std::to_string(N + 1)));
    for (double x : read_f64(f, g + "grad_h_norm")) EXPECT_TRUE(std::isfinite(x)) << file;
    for (double x : read_f64(f, g + "h_norm_pos/layer_" + std::to_string(N))) EXPECT_TRUE(std::isfinite(x)) << file;
  }
  EXPECT_TRUE(weft::ckpt::H5File::open_read(run + "/norms.h5").has("diag/step_0/loss"));
}

INSTANTIATE_TEST_SUITE_P(Registered, NormsFamilies, ::testing::ValuesIn(weft::test::family_cases()),
                         [](const auto& info) { return weft::test::family_case_name(info.param); });

}  // namespace
