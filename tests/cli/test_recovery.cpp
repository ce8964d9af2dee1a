// Checkpoint recovery and the run folder (issue 16): `--resume auto` without `latest`, a corrupt newest checkpoint,
// no valid checkpoint at all, a run folder reused without --resume, --restart, metrics.jsonl cut back to the
// resumed step, a truncated manifest, config.ini fed back with --config, an unwritable --out, a full disk while
// writing config.ini, inspect before any validation, --help defaults, the final val_loss note, a changed global
// batch on resume. Each case reproduces a defect found by hand and checks the message, the exit code and that
// no checkpoint was lost.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/harness/process.h"

namespace {

namespace fs = std::filesystem;
using weft::test::json_field;
using Result = weft::test::ProcessResult;
Result sh(const std::string& cmd) { return weft::test::run_shell(cmd); }
std::string weft() { return WEFT_BINARY; }
bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class Recovery : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_recovery_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ASSERT_EQ(sh(weft() + " prepare --builtin stories --out " + dir_ + "/data --tokens 40000").code, 0);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string train(const std::string& out, const std::string& extra) {
    return weft() + " train --data " + dir_ + "/data --out " + out +
           " --d-model 16 --n-layers 2 --n-heads 2 --seq-len 16 --batch-size 2 --threads 1 --eval-every 0"
           " --log-every 1 --warmup 2 " + extra;
  }
  // A run of 30 steps with checkpoints at 10, 20, 30 (all kept).
  static std::string three_checkpoints(const std::string& name) {
    const std::string run = dir_ + "/" + name;
    Result r = sh(train(run, "--steps 30 --save-every 10 --keep-checkpoints 3"));
    EXPECT_EQ(r.code, 0) << r.out;
    return run;
  }
  static std::vector<std::string> folders(const std::string& dir) {
    std::vector<std::string> names;
    if (!fs::is_directory(dir)) return names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  // The steps of the train-loss lines of metrics.jsonl, in file order.
  static std::vector<int> train_steps(const std::string& run) {
    std::vector<int> steps;
    std::ifstream in(run + "/metrics.jsonl");
    for (std::string line; std::getline(in, line);)
      if (!json_field(line, "loss").empty()) steps.push_back(std::stoi(json_field(line, "step")));
    return steps;
  }
  static std::string dir_;
};
std::string Recovery::dir_;

TEST_F(Recovery, ResumeAutoWithoutLatestContinuesFromTheNewestCheckpoint) {
  const std::string run = three_checkpoints("nolatest");
  fs::remove(run + "/checkpoints/latest");
  Result r = sh(train(run, "--steps 35 --save-every 10 --keep-checkpoints 1 --resume auto"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, "latest is missing: using step_00000030")) << r.out;
  EXPECT_TRUE(has(r.out, "resumed from " + run + "/checkpoints/step_00000030 at step 30")) << r.out;
  // It trained steps 31..35 only, the metrics hold every step once, and pruning kept the newest.
  const std::vector<int> steps = train_steps(run);
  ASSERT_EQ(steps.size(), 35u);
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i], static_cast<int>(i) + 1);
  EXPECT_EQ(folders(run + "/checkpoints"), (std::vector<std::string>{"latest", "step_00000035"}));
}

TEST_F(Recovery, EvalAndInspectFindTheCheckpointsWithoutLatest) {
  const std::string run = three_checkpoints("readers");
  fs::remove(run + "/checkpoints/latest");
  Result e = sh(weft() + " eval --checkpoint " + run + " --batches 1 --threads 1");
  EXPECT_EQ(e.code, 0) << e.out;
  Result i = sh(weft() + " inspect " + run);
  EXPECT_EQ(i.code, 0) << i.out;
  EXPECT_TRUE(has(i.out, "step_00000030")) << i.out;
}

TEST_F(Recovery, ACorruptNewestCheckpointIsSkippedNamedAndSetAside) {
  const std::string run = three_checkpoints("corrupt");
  {  // damage a parameter's bytes in the newest checkpoint
    std::fstream f(run + "/checkpoints/step_00000030/rank_00000.h5", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(run + "/checkpoints/step_00000030/rank_00000.h5") - 64));
    f.write("XXXXXXXX", 8);
  }
  Result r = sh(train(run, "--steps 25 --save-every 10 --keep-checkpoints 3 --resume auto"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, "skipped checkpoint step_00000030")) << r.out;
  EXPECT_TRUE(has(r.out, "resumed from " + run + "/checkpoints/step_00000020 at step 20")) << r.out;
  // The damaged one is kept aside, not deleted, and no longer in the run's history.
  EXPECT_TRUE(fs::exists(run + "/checkpoints/set_aside/step_00000030/rank_00000.h5"));
  EXPECT_EQ(folders(run + "/checkpoints"),
            (std::vector<std::string>{"latest", "set_aside", "step_00000010", "step_00000020", "step_00000025"}));
  const std::vector<int> steps = train_steps(run);  // lines 21..30 of the abandoned steps were cut back
  ASSERT_EQ(steps.size(), 25u);
  EXPECT_EQ(steps.back(), 25);
}

TEST_F(Recovery, NoValidCheckpointIsAnErrorAndChangesNothing) {
  const std::string run = three_checkpoints("novalid");
  for (const char* s : {"step_00000010", "step_00000020", "step_00000030"}) fs::remove(run + "/checkpoints/" + s + "/manifest.txt");
  Result r = sh(train(run, "--steps 40 --resume auto"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(has(r.out, "no checkpoint in " + run + "/checkpoints verifies")) << r.out;
  EXPECT_TRUE(has(r.out, "step_00000010: [checkpoint]")) << r.out;
  EXPECT_TRUE(has(r.out, "--restart")) << r.out;
  EXPECT_EQ(folders(run + "/checkpoints"),
            (std::vector<std::string>{"latest", "step_00000010", "step_00000020", "step_00000030"}));
  EXPECT_EQ(train_steps(run).size(), 30u);
}

TEST_F(Recovery, AFolderWithCheckpointsIsNotRetrainedFromStepZero) {
  const std::string run = three_checkpoints("reuse");
  Result r = sh(train(run, "--steps 30"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(has(r.out, "already holds checkpoints (newest step_00000030)")) << r.out;
  EXPECT_TRUE(has(r.out, "--resume auto")) << r.out;
  EXPECT_EQ(train_steps(run).size(), 30u);
  // --restart starts over and moves the old run aside, whole.
  Result s = sh(train(run, "--steps 5 --restart"));
  ASSERT_EQ(s.code, 0) << s.out;
  EXPECT_TRUE(fs::exists(run + "/previous_1/checkpoints/step_00000030/manifest.txt"));
  EXPECT_EQ(train_steps(run + "/previous_1").size(), 30u);
  EXPECT_EQ(train_steps(run).size(), 5u);
  EXPECT_FALSE(has(sh("cat " + run + "/config.ini").out, "restart")) << "a one-shot flag in the saved configuration";
  EXPECT_EQ(sh(train(run, "--steps 5 --restart --resume auto")).code, 2);
}

TEST_F(Recovery, MetricsAreCutBackToTheResumedStep) {
  const std::string run = dir_ + "/metrics";
  ASSERT_EQ(sh(train(run, "--steps 10 --save-every 5")).code, 0);
  // A run killed after step 10's checkpoint logged steps 11..12 and tore its last line.
  {
    std::ofstream m(run + "/metrics.jsonl", std::ios::app);
    m << "{\"step\": 11, \"loss\": 5.1}\n{\"step\": 12, \"loss\": 5.0}\n{\"step\": 13, \"lo";
  }
  Result r = sh(train(run, "--steps 14 --save-every 5 --resume latest"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, "metrics.jsonl: 3 lines past step 10 removed")) << r.out;
  const std::vector<int> steps = train_steps(run);
  ASSERT_EQ(steps.size(), 14u);
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i], static_cast<int>(i) + 1);
}

TEST_F(Recovery, ATruncatedManifestNamesItsFile) {
  const std::string run = dir_ + "/manifest";
  ASSERT_EQ(sh(train(run, "--steps 2")).code, 0);
  const std::string manifest = run + "/checkpoints/step_00000002/manifest.txt";
  // Cut inside the first `file` line (after its size, before its checksum): a bare conversion error before.
  std::ifstream in(manifest);
  std::stringstream text;
  text << in.rdbuf();
  const std::string full = text.str();
  const size_t cut = full.find("rank_00000.h5 ") + 16;
  std::ofstream(manifest, std::ios::trunc) << full.substr(0, cut);
  Result r = sh(weft() + " eval --checkpoint " + run + "/checkpoints/step_00000002 --batches 1");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(has(r.out, manifest)) << r.out;
  EXPECT_FALSE(has(r.out, "stoull")) << r.out;
  std::ofstream(manifest, std::ios::trunc) << full.substr(0, full.size() - 4);  // without its "end" line
  r = sh(weft() + " eval --checkpoint " + run + "/checkpoints/step_00000002 --batches 1");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(has(r.out, manifest + " is truncated")) << r.out;
}

TEST_F(Recovery, ARunsConfigIniCanBeFedBack) {
  const std::string run = dir_ + "/config";
  ASSERT_EQ(sh(train(run, "--steps 3 --save-every 1 --keep-log-spaced")).code, 0);
  EXPECT_TRUE(has(sh("cat " + run + "/config.ini").out, "resume = \n")) << "the empty value this test is about";
  Result r = sh(weft() + " train --config " + run + "/config.ini --out " + dir_ + "/config_again");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(sh("cmp " + run + "/metrics.jsonl " + dir_ + "/config_again/metrics.jsonl").code, 1)
      << "elapsed times differ, but the run must have happened";
  EXPECT_EQ(train_steps(dir_ + "/config_again").size(), 3u);
}

TEST_F(Recovery, AnUnwritableOutIsAUsageError) {
  const std::string file = dir_ + "/plain_file";
  std::ofstream(file) << "x";
  Result r = sh(train(file + "/run", "--steps 2"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(has(r.out, "--out " + file + "/run: cannot create the run folder")) << r.out;
}

TEST_F(Recovery, AFullDiskWhileWritingConfigIniIsNamed) {
  const std::string run = dir_ + "/fulldisk";
  Result r = sh("ulimit -f 0; " + train(run, "--steps 2"));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_TRUE(has(r.out, "writing '" + run + "/config.ini' failed (disk full?)")) << r.out;
  EXPECT_FALSE(fs::exists(run + "/config.ini"));
}

TEST_F(Recovery, InspectBeforeAnyValidationSaysSo) {
  const std::string run = dir_ + "/inspect";
  ASSERT_EQ(sh(train(run, "--steps 2 --eval-batches 0")).code, 0);
  Result r = sh(weft() + " inspect " + run);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, "best val loss - (no validation yet)")) << r.out;
  EXPECT_TRUE(has(r.out, "tokenizer byte | 257 pieces | hash ")) << r.out;
  EXPECT_FALSE(has(r.out, "00000000000000000000")) << r.out;
}

TEST_F(Recovery, HelpDefaultsReadAsWritten) {
  for (const char* cmd : {"train", "prepare", "sample", "retrieval train", "embed", "analyze receptive-field", "tokenizer train"}) {
    Result r = sh(weft() + " " + cmd + " --help");
    EXPECT_FALSE(has(r.out, "0000000")) << cmd << ":\n" << r.out;
    EXPECT_FALSE(has(r.out, "9999999")) << cmd << ":\n" << r.out;
  }
  EXPECT_TRUE(has(sh(weft() + " train --help").out, "(=0.95)"));
}

TEST_F(Recovery, FinalValLossSaysWhatItCovers) {
  Result r = sh(train(dir_ + "/final", "--steps 2 --eval-batches 1"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, "final val_loss")) << r.out;
  EXPECT_TRUE(has(r.out, "(the first 1 validation batches, as during training; `weft eval` scores the whole split)"))
      << r.out;
}

TEST_F(Recovery, AChangedGlobalBatchOnResumeIsExplained) {
  const std::string run = dir_ + "/batch";
  ASSERT_EQ(sh(train(run, "--steps 2")).code, 0);
  Result r = sh(train(run, "--steps 4 --resume latest --grad-accum 2"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, "the global batch changes from 2 sequences")) << r.out;
  EXPECT_TRUE(has(r.out, "to 4: the data continues from the checkpoint's sample cursor")) << r.out;
}

}  // namespace
