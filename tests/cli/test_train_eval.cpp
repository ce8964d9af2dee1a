// The training step and evaluation loop through the weft binary: numbered shards (train_000000.bin, ...)
// are read by train and eval, the evaluation loss does not depend on --batch-size, a length the model
// cannot run is refused naming --seq-len, a run's config.ini names its data folder absolutely (eval works
// from another directory), a resume that changes the LR decay length says so, and --dtype bf16 on the CPU
// follows the fp32 loss curve (or is refused naming the flag where the CPU has no bf16 instructions).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <cmath>
#include <string>
#include <vector>

#include "data/shard.h"
#include "data/split.h"
#include "runtime/cpu_gemm.h"
#include "tests/harness/process.h"

namespace {

namespace fs = std::filesystem;
using Result = weft::test::ProcessResult;

Result run(const std::string& args) { return weft::test::run_shell(std::string(WEFT_BINARY) + " " + args); }

std::string json_field(const std::string& line, const std::string& key) {
  size_t p = line.find("\"" + key + "\": ");
  if (p == std::string::npos) return "";
  p += key.size() + 4;
  return line.substr(p, line.find_first_of(",}", p) - p);
}

class TrainEval : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_train_eval_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    Result r = run("prepare --builtin stories --out " + dir_ + "/data --tokens 60000");
    ASSERT_EQ(r.code, 0) << r.out;
    r = run("train --data " + dir_ + "/data --out " + dir_ + "/run --d-model 16 --n-layers 1 --n-heads 2 --seq-len 16"
            " --batch-size 2 --threads 1 --steps 4 --eval-every 0 --eval-batches 2 --log-every 1");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string dir_;
};
std::string TrainEval::dir_;

TEST_F(TrainEval, NumberedShardsAreReadByTrainAndEval) {
  // Rewrite the data folder's splits as numbered shards of at most 5000 tokens (documents = text between
  // end-of-text tokens), next to a copy of its tokenizer.
  const std::string src = dir_ + "/data", dst = dir_ + "/sharded";
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(src))
    if (e.path().extension() != ".bin") fs::copy(e.path(), dst + "/" + e.path().filename().string());
  int64_t expected_windows = 0;
  for (const std::string split : {"train", "val"}) {
    weft::data::Shard shard(src + "/" + split + ".bin");
    weft::data::SplitWriter writer(dst, split, shard.vocab_size(), shard.eot(), 5000);
    std::vector<int32_t> doc;
    for (int64_t i = 0; i < shard.size(); ++i) {
      const int32_t id = shard.at(i);
      if (id == shard.eot()) {
        writer.add_document(doc);
        doc.clear();
      } else {
        doc.push_back(id);
      }
    }
    std::vector<std::string> files = writer.close();
    ASSERT_GE(files.size(), split == std::string("train") ? 3u : 1u) << split;
    if (split == std::string("val"))
      for (const std::string& f : files) expected_windows += (weft::data::Shard(f).size() - 1) / 16;
  }
  ASSERT_FALSE(fs::exists(dst + "/train.bin"));
  Result r = run("train --data " + dst + " --out " + dir_ + "/run_sharded --d-model 16 --n-layers 1 --n-heads 2"
                 " --seq-len 16 --batch-size 2 --threads 1 --steps 3 --eval-every 0 --eval-batches 2");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("eval --checkpoint " + dir_ + "/run_sharded --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(json_field(r.out, "tokens"), std::to_string(expected_windows * 16)) << r.out;
}

TEST_F(TrainEval, EvalLossDoesNotDependOnBatchSize) {
  Result a = run("eval --checkpoint " + dir_ + "/run --threads 1 --batch-size 1");
  Result b = run("eval --checkpoint " + dir_ + "/run --threads 1 --batch-size 7");
  ASSERT_EQ(a.code, 0) << a.out;
  ASSERT_EQ(b.code, 0) << b.out;
  ASSERT_FALSE(json_field(a.out, "loss").empty()) << a.out;
  // The token losses are summed in fp64 in token order, so what is left is the f32 model itself computed
  // in GEMMs of another height (about 1e-9 here); an f32 sum per batch, as before, differed by ~1e-7.
  const double la = std::stod(json_field(a.out, "loss")), lb = std::stod(json_field(b.out, "loss"));
  EXPECT_NEAR(la, lb, 1e-8 * la) << a.out << b.out;
  EXPECT_EQ(json_field(a.out, "tokens"), json_field(b.out, "tokens"));
}

TEST_F(TrainEval, LengthBeyondTheModelIsRefusedNamingTheFlag) {
  Result r = run("eval --checkpoint " + dir_ + "/run --threads 1 --seq-len 17");  // learned positions: 16 rows
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--seq-len 17"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("at most 16"), std::string::npos) << r.out;
}

TEST_F(TrainEval, ConfigNamesTheDataFolderAbsolutely) {
  const std::string rel_run = dir_ + "/rel";
  Result r = weft::test::run_shell("cd " + dir_ + " && " + WEFT_BINARY + " train --data data --out rel --d-model 16"
                                   " --n-layers 1 --n-heads 2 --seq-len 16 --batch-size 2 --threads 1 --steps 2"
                                   " --eval-every 0 --eval-batches 1");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream in(rel_run + "/config.ini");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("data = " + fs::canonical(dir_ + "/data").string() + "\n"), std::string::npos) << text;
  r = weft::test::run_shell("cd / && " + std::string(WEFT_BINARY) + " eval --checkpoint " + rel_run + " --threads 1");
  EXPECT_EQ(r.code, 0) << r.out;
}

TEST_F(TrainEval, ResumeWithAnotherDecayLengthSaysSo) {
  const std::string base = "train --data " + dir_ + "/data --out " + dir_ + "/decay --d-model 16 --n-layers 1"
                           " --n-heads 2 --seq-len 16 --batch-size 2 --threads 1 --eval-every 0 --eval-batches 1";
  Result r = run(base + " --steps 2");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run(base + " --steps 4 --resume auto");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("now decays over 4 steps; the checkpoint's run decayed over 2"), std::string::npos) << r.out;
  r = run(base + " --steps 6 --decay-steps 4 --resume auto");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("now decays"), std::string::npos) << r.out;
}

std::vector<double> logged_losses(const std::string& metrics) {
  std::ifstream in(metrics);
  std::vector<double> losses;
  for (std::string line; std::getline(in, line);)
    if (line.find("\"loss\": ") != std::string::npos) losses.push_back(std::stod(json_field(line, "loss")));
  return losses;
}

TEST_F(TrainEval, CpuBf16FollowsTheFp32LossCurveOrIsRefused) {
  const std::string base = "train --data " + dir_ + "/data --d-model 64 --n-layers 2 --n-heads 2 --seq-len 32"
                           " --batch-size 4 --threads 1 --steps 60 --warmup 5 --lr 1e-3 --eval-every 0"
                           " --eval-batches 1 --log-every 10 --device cpu";
  std::string why;
  if (!weft::cpu_bf16_gemm_available(&why)) {
    Result r = run(base + " --out " + dir_ + "/bf16 --dtype bf16");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("--dtype bf16 on the CPU"), std::string::npos) << r.out;
    GTEST_SKIP() << "no bf16 GEMMs here (" << why << "): only the refusal was checked";
  }
  Result r = run(base + " --out " + dir_ + "/fp32");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run(base + " --out " + dir_ + "/bf16 --dtype bf16");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("GEMMs on bf16-rounded operands"), std::string::npos) << r.out;
  const std::vector<double> f = logged_losses(dir_ + "/fp32/metrics.jsonl"), b = logged_losses(dir_ + "/bf16/metrics.jsonl");
  ASSERT_EQ(f.size(), 6u);
  ASSERT_EQ(b.size(), f.size());
  bool any_difference = false;
  for (size_t i = 0; i < f.size(); ++i) {  // 60 steps of a loss falling from ~5 to ~3.3: within 2% all along (seen: 1e-3)
    EXPECT_LE(std::fabs(b[i] - f[i]), 0.02 * f[i]) << "logged loss " << i << ": fp32 " << f[i] << ", bf16 " << b[i];
    any_difference |= b[i] != f[i];
  }
  EXPECT_TRUE(any_difference) << "--dtype bf16 gave the fp32 losses bit for bit";
  EXPECT_LT(f.back(), f.front() - 1.0) << "the fp32 run did not learn, so the comparison says little";
}

}  // namespace
