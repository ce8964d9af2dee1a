// MoEUT under expert parallelism through `weft train` (label mpi; skipped without mpirun), issue 13's
// acceptance runs at the same global batch of 8 sequences: E = 1 (1 rank, grad-accum 4) vs E = 2 (2 ranks,
// accum 2) vs E = 2 x D = 2 (4 ranks, accum 1) vs E = 4 (4 ranks): the same per-step loss, cross-entropy,
// regulariser and gradient norm (1e-5 relative) for 20 steps and the same final weights (1e-5); a checkpoint
// saved with E = 2 (two expert shard files, each with its row range, no expert tensor in the main file)
// continues with E = 1 and with E = 4, one saved with E = 4 with E = 1 and E = 2, and one saved with E = 1
// with E = 2 x D = 2, reproducing the uninterrupted losses (1e-6 relative); a deleted or corrupt shard file
// is refused with exit 2 naming it. A layout that does not fit is refused with exit 2 naming --expert-parallel.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "runtime/checkpoint/h5.h"
#include "tests/cli/family_runs.h"

namespace weft::test {
namespace {

namespace fs = std::filesystem;

constexpr int kSteps = 20;

ProcessResult sh(const std::string& cmd) { return run_shell(cmd); }
std::string weft() { return WEFT_BINARY; }

const FamilyCase kCase{"moeut",
                       {"ep",
                        {{"d-model", "16"}, {"n-layers", "4"}, {"n-groups", "2"}, {"n-heads", "2"}, {"head-dim", "8"},
                         {"n-experts", "8"}, {"expert-size", "8"}, {"top-k", "2"}, {"att-experts", "3"},
                         {"att-top-k", "2"}}}};

class MoeutParallel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (sh("command -v mpirun").code != 0) return;
    dir_ = (fs::temp_directory_path() / ("weft_moeut_ep_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ProcessResult r = sh(weft() + " prepare --builtin stories --out " + dir_ + "/data --tokens 80000");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    if (dir_.empty()) GTEST_SKIP() << "mpirun not found";
  }
  // ranks x accum x 2 sequences = 8 per step.
  static std::string train(const std::string& out, int ranks, int experts, int steps = kSteps) {
    const int accum = 4 / ranks;
    return (ranks > 1 ? mpirun(ranks) : std::string()) + weft() + " train --data " + dir_ + "/data --out " + out +
           family_args(kCase) + " --batch-size 2 --threads 1 --eval-every 0 --eval-batches 0 --log-every 1" +
           " --warmup 2 --seed 5 --lr 3e-3 --steps " + std::to_string(steps) + " --decay-steps " +
           std::to_string(kSteps) + " --save-every 10 --grad-accum " + std::to_string(accum) +
           " --expert-parallel " + std::to_string(experts);
  }
  static const StepFields& reference() {  // E = 1 on one rank, run once
    static StepFields m;
    if (m.empty()) {
      ProcessResult r = sh(train(dir_ + "/e1", 1, 1));
      EXPECT_EQ(r.code, 0) << r.out;
      m = read_metrics(dir_ + "/e1");
    }
    return m;
  }
  static std::string dir_;
};
std::string MoeutParallel::dir_;

void expect_same_run(const StepFields& ref, const StepFields& got, const std::string& what, int from = 1) {
  ASSERT_EQ(got.size(), static_cast<size_t>(kSteps - from + 1)) << what;
  for (int step = from; step <= kSteps; ++step)
    for (const char* key : {"loss", "ce", "reg", "grad_norm"}) {
      ASSERT_TRUE(got.at(step).count(key)) << "'" << key << "' missing at step " << step << " of " << what;
      const double x = std::stod(ref.at(step).at(key)), y = std::stod(got.at(step).at(key));
      EXPECT_NEAR(y, x, 1e-5 * std::fabs(x)) << key << " at step " << step << ": " << what << " vs E = 1";
    }
}

double max_weight_difference(const std::string& a, const std::string& b) {
  const std::vector<double> wa = final_weights(kCase, a), wb = final_weights(kCase, b);
  EXPECT_EQ(wa.size(), wb.size());
  double d = 0;
  for (size_t i = 0; i < wa.size() && i < wb.size(); ++i) d = std::max(d, std::fabs(wa[i] - wb[i]));
  return d;
}

TEST_F(MoeutParallel, EveryExpertLayoutTrainsTheSameModel) {
  const StepFields& ref = reference();
  ASSERT_EQ(ref.size(), static_cast<size_t>(kSteps));
  for (auto [ranks, experts] : {std::pair{2, 2}, {4, 2}, {4, 4}}) {
    const std::string run = dir_ + "/r" + std::to_string(ranks) + "e" + std::to_string(experts);
    ProcessResult r = sh(train(run, ranks, experts));
    ASSERT_EQ(r.code, 0) << r.out;
    const std::string what = std::to_string(ranks) + " ranks, E = " + std::to_string(experts);
    expect_same_run(ref, read_metrics(run), what);
    EXPECT_LE(max_weight_difference(dir_ + "/e1", run), 1e-5) << "final weights, " << what;
  }
}

// Steps 11-20 continued from `from`'s step-10 checkpoint in a new run with another layout.
void expect_continues(const std::string& from, const std::string& run, const std::string& launch,
                      const StepFields& ref, const std::string& what) {
  fs::create_directories(run + "/checkpoints");
  fs::copy(from + "/checkpoints/step_00000010", run + "/checkpoints/step_00000010");
  std::ofstream(run + "/checkpoints/latest") << "step_00000010\n";
  ProcessResult r = sh(launch + " --resume latest");
  ASSERT_EQ(r.code, 0) << r.out;
  const StepFields got = read_metrics(run);
  for (int step = 11; step <= kSteps; ++step) {
    ASSERT_TRUE(got.count(step)) << what << ": step " << step;
    const double x = std::stod(ref.at(step).at("loss")), y = std::stod(got.at(step).at("loss"));
    EXPECT_NEAR(y, x, 1e-6 * std::fabs(x)) << what << ": loss at step " << step;
  }
}

// A checkpoint of an E-way expert-parallel run: one shard file per shard with the rows [s n / E, (s + 1) n / E)
// of each of the 8 experts' tensors, in the manifest; the main file holds no expert tensor.
void expect_shard_files(const std::string& checkpoint, int E) {
  std::ifstream in(checkpoint + "/manifest.txt");
  const std::string manifest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const ckpt::H5File main = ckpt::H5File::open_read(checkpoint + "/rank_00000.h5");
  EXPECT_EQ(main.attr_int("expert_shard_files"), E);
  for (const std::string& name : main.dataset_names())
    EXPECT_EQ(name.find(".ffn.keys"), std::string::npos) << name << " in the main file";
  for (int s = 0; s <= E; ++s) {
    const std::string file = "experts_0000" + std::to_string(s) + ".h5";
    ASSERT_EQ(fs::exists(checkpoint + "/" + file), s < E) << file;
    if (s == E) break;
    EXPECT_NE(manifest.find("file " + file + " "), std::string::npos) << file;
    const ckpt::H5File f = ckpt::H5File::open_read(checkpoint + "/" + file);
    const std::string keys = "params/blocks.0.ffn.keys";
    EXPECT_EQ(f.dataset_attr_ints(keys, "row_range"), (std::vector<int64_t>{s * 8 / E, (s + 1) * 8 / E})) << file;
    EXPECT_EQ(f.dataset_attr_ints(keys, "logical_shape"), (std::vector<int64_t>{8, 16, 8})) << file;
    EXPECT_EQ(f.shape_of("optim/v/blocks.1.ffn.values"), (Shape{8 / E, 8, 16})) << file;
  }
}

TEST_F(MoeutParallel, CheckpointsContinueUnderAnotherExpertLayout) {
  const StepFields& ref = reference();
  const std::string e2 = dir_ + "/c_e2";
  ProcessResult r = sh(train(e2, 2, 2));
  ASSERT_EQ(r.code, 0) << r.out;
  expect_shard_files(e2 + "/checkpoints/step_00000010", 2);
  expect_continues(e2, dir_ + "/c_e2_on_e1", train(dir_ + "/c_e2_on_e1", 1, 1), ref, "E = 2 checkpoint on E = 1");
  expect_continues(e2, dir_ + "/c_e2_on_e4", train(dir_ + "/c_e2_on_e4", 4, 4), ref, "E = 2 checkpoint on E = 4");
  expect_continues(dir_ + "/e1", dir_ + "/c_e1_on_e2d2", train(dir_ + "/c_e1_on_e2d2", 4, 2), ref,
                   "E = 1 checkpoint on E = 2 x D = 2");
  const std::string e4 = dir_ + "/c_e4";  // the first 10 steps with E = 4, continued with E = 1 and E = 2
  r = sh(train(e4, 4, 4, 10));
  ASSERT_EQ(r.code, 0) << r.out;
  expect_shard_files(e4 + "/checkpoints/step_00000010", 4);
  expect_continues(e4, dir_ + "/c_e4_on_e1", train(dir_ + "/c_e4_on_e1", 1, 1), ref, "E = 4 checkpoint on E = 1");
  expect_continues(e4, dir_ + "/c_e4_on_e2", train(dir_ + "/c_e4_on_e2", 2, 2), ref, "E = 4 checkpoint on E = 2");
  // One process assembles the whole expert tensors from the shard files.
  r = sh(weft() + " inspect " + e4);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("expert shard files: 4"), std::string::npos) << r.out;
  const size_t row = r.out.find("params/blocks.0.ffn.keys ");
  ASSERT_NE(row, std::string::npos) << r.out;
  EXPECT_EQ(r.out.substr(row, r.out.find('\n', row) - row).find("(8, 16, 8)"), 45u) << r.out;
}

TEST_F(MoeutParallel, MissingOrCorruptShardFileExitsTwoNamingIt) {
  const std::string run = dir_ + "/bad_shards";
  ProcessResult r = sh(train(run, 2, 2, 10));
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string ckpt = run + "/checkpoints/step_00000010";
  const std::string file = ckpt + "/experts_00001.h5";
  const std::string saved = dir_ + "/experts_00001.h5.saved";
  fs::copy_file(file, saved);
  {  // one flipped byte inside a tensor's data
    const int64_t at = ckpt::H5File::open_read(file).data_offset("optim/m/blocks.1.ffn.values") + 5;
    std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(at);
    char c = 0;
    io.get(c);
    io.seekp(at);
    io.put(static_cast<char>(c ^ 0x01));
  }
  for (const std::string& cmd : {weft() + " inspect " + run, train(run, 2, 2, 12) + " --resume latest"}) {
    r = sh(cmd);
    EXPECT_EQ(r.code, 2) << cmd << "\n" << r.out;
    EXPECT_NE(r.out.find("experts_00001.h5': checksum mismatch in dataset 'optim/m/blocks.1.ffn.values'"),
              std::string::npos) << r.out;
  }
  fs::remove(file);
  r = sh(weft() + " inspect " + run);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("experts_00001.h5', which does not exist"), std::string::npos) << r.out;
  fs::copy_file(saved, file);
  r = sh(weft() + " inspect " + run);
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(MoeutParallel, ImpossibleLayoutsExitTwoNamingTheFlag) {
  for (auto [ranks, experts] : {std::pair{2, 3}, {4, 8}}) {  // 3 does not divide 2 ranks; 8 > 4 ranks
    ProcessResult r = sh(train(dir_ + "/bad", ranks, experts, 1));
    EXPECT_EQ(r.code, 2) << ranks << " ranks, E = " << experts;
    EXPECT_NE(r.out.find("--expert-parallel"), std::string::npos) << r.out;
  }
  // 3 experts cannot be split over E = 2
  ProcessResult r = sh(mpirun(2) + weft() + " train --data " + dir_ + "/data --out " + dir_ +
                       "/bad3 --model moeut --d-model 8 --n-heads 2 --n-experts 3 --top-k 1 --steps 1 --threads 1"
                       " --expert-parallel 2");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--expert-parallel"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace weft::test
