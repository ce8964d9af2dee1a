// Numeric faults through `weft train` on one rank (launch/step_guard.h): a NaN loss injected at a step skips
// that update (weights, AdamW moments and the optimizer's step count bit-identical before and after; the run
// finishes with exit 0; the metrics line says skipped; a checkpoint saved right after the skip resumes
// bit-exactly); K consecutive NaNs save the last good state and exit 4 with a message, and that checkpoint
// resumes; the spike guard skips an injected spike, its window travels in the checkpoint (the resumed run skips
// the same step); --lr 10 warns once that the loss is far above ln(vocab); the fault flags reject bad values.
// The two-rank cases (all ranks agree) are in test_faults_mpi.cpp.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/checkpoint/h5.h"
#include "runtime/checkpoint/reader.h"
#include "tests/cli/family_runs.h"
#include "tests/harness/process.h"

namespace weft::test {
namespace {

namespace fs = std::filesystem;

ProcessResult sh(const std::string& cmd) { return run_shell(cmd); }
std::string weft() { return WEFT_BINARY; }

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// Every params/ and optim/ dataset of a checkpoint's main file (f32) by name, and its optimizer step count.
struct Saved {
  std::map<std::string, std::vector<float>> tensors;
  int64_t optimizer_steps = -1;
};
Saved read_saved(const std::string& checkpoint) {
  Saved s;
  ckpt::H5File f = ckpt::H5File::open_read(checkpoint + "/" + ckpt::kMainFile);
  for (const std::string& name : f.dataset_names()) {
    if (name.rfind("params/", 0) != 0 && name.rfind("optim/", 0) != 0) continue;
    const Shape shape = f.shape_of(name);
    std::vector<float>& v = s.tensors[name];
    v.resize(static_cast<size_t>(shape.numel()));
    f.read(name, DType::f32, shape, v.data());
  }
  s.optimizer_steps = f.attr_int("optimizer_steps");
  return s;
}

class Faults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_faults_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ASSERT_EQ(sh(weft() + " prepare --builtin stories --out " + dir_ + "/data --tokens 80000").code, 0);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string train(const std::string& out, const std::string& extra,
                           const std::string& schedule = "--warmup 2 --lr 3e-3") {
    return weft() + " train --data " + dir_ + "/data --out " + out +
           " --d-model 16 --n-layers 2 --n-heads 2 --seq-len 16 --batch-size 2 --threads 1 --eval-every 0"
           " --eval-batches 0 --log-every 1 --seed 3 " + schedule + " " + extra;
  }
  static std::string dir_;
};
std::string Faults::dir_;

TEST_F(Faults, NanLossSkipsTheUpdateAndLeavesWeightsAndAdamWUntouched) {
  const std::string run = dir_ + "/nan";
  ProcessResult r = sh(train(run, "--steps 6 --decay-steps 6 --save-every 1 --keep-checkpoints 10 --inject-nan-at 3"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("warning: step 3: loss is nan: update skipped (1 in a row, 1 in total)"), std::string::npos)
      << r.out;
  EXPECT_EQ(count_of(r.out, "update skipped"), 1u) << r.out;
  StepFields m = read_metrics(run);
  ASSERT_TRUE(m.count(3) && m.count(4) && m.count(6));
  EXPECT_EQ(m[3]["skipped"], "1");
  EXPECT_EQ(m[3]["skipped_total"], "1");
  EXPECT_EQ(m[3]["loss"], "null");
  EXPECT_EQ(m[3]["skip_reason"], "\"loss is nan\"");
  EXPECT_EQ(m[4].count("skipped"), 0u);  // an applied update
  EXPECT_EQ(m[6]["skipped_total"], "1");
  EXPECT_NE(m[4]["loss"], m[6]["loss"]);  // it trained after the skip
  // The update of step 3 never happened: step 3's checkpoint equals step 2's (weights, moments, step count).
  const Saved s2 = read_saved(run + "/checkpoints/step_00000002"), s3 = read_saved(run + "/checkpoints/step_00000003"),
              s4 = read_saved(run + "/checkpoints/step_00000004");
  EXPECT_EQ(s2.optimizer_steps, 2);
  EXPECT_EQ(s3.optimizer_steps, 2);
  EXPECT_EQ(s4.optimizer_steps, 3);
  ASSERT_FALSE(s2.tensors.empty());
  for (const auto& [name, values] : s2.tensors) {
    EXPECT_EQ(values, s3.tensors.at(name)) << name << " changed in the skipped step";
  }
  bool step4_changed = false;  // the next update applied
  for (const auto& [name, values] : s3.tensors) step4_changed = step4_changed || values != s4.tensors.at(name);
  EXPECT_TRUE(step4_changed);
}

TEST_F(Faults, CheckpointRightAfterASkippedStepResumesBitExactly) {
  const std::string a = dir_ + "/skip_a", b = dir_ + "/skip_b";
  const std::string flags = "--decay-steps 8 --inject-nan-at 3";
  ProcessResult r = sh(train(a, flags + " --steps 8"));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(train(b, flags + " --steps 3"));  // saves at step 3, the skipped one
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(train(b, flags + " --steps 8 --resume latest"));
  ASSERT_EQ(r.code, 0) << r.out;
  StepFields ma = read_metrics(a), mb = read_metrics(b);
  for (int step = 4; step <= 8; ++step) {
    ASSERT_TRUE(ma.count(step) && mb.count(step)) << step;
    EXPECT_EQ(ma[step]["loss"], mb[step]["loss"]) << "step " << step;
    EXPECT_EQ(ma[step]["grad_norm"], mb[step]["grad_norm"]) << "step " << step;
    EXPECT_EQ(mb[step]["skipped_total"], "1") << "step " << step;  // the count travels in the checkpoint
  }
}

TEST_F(Faults, ConsecutiveSkipsSaveTheLastGoodStateAndExit4) {
  const std::string run = dir_ + "/give_up";
  ProcessResult r = sh(train(run, "--steps 12 --decay-steps 12 --save-every 2 --keep-checkpoints 10 "
                                  "--inject-nan-at 4,5,6 --max-skipped-steps 3"));
  ASSERT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("error: 3 consecutive updates skipped (steps 4-6, --max-skipped-steps 3; last: loss is nan)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("the weights after step 3, the data cursor after step 6"), std::string::npos) << r.out;
  ASSERT_TRUE(fs::exists(run + "/checkpoints/step_00000006")) << r.out;
  EXPECT_FALSE(fs::exists(run + "/checkpoints/step_00000008"));  // it stopped
  // The weights of the last good step (3): step 6 holds step 4's (the skips of 4 to 6 changed nothing).
  const Saved s4 = read_saved(run + "/checkpoints/step_00000004"), s6 = read_saved(run + "/checkpoints/step_00000006");
  EXPECT_EQ(s6.optimizer_steps, 3);
  for (const auto& [name, values] : s4.tensors) EXPECT_EQ(values, s6.tensors.at(name)) << name;
  // It resumes, with a fresh streak, and finishes.
  r = sh(train(run, "--steps 12 --decay-steps 12 --save-every 2 --keep-checkpoints 10 --resume latest"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("at step 6"), std::string::npos) << r.out;
  StepFields m = read_metrics(run);
  ASSERT_TRUE(m.count(12));
  EXPECT_EQ(m[12]["skipped_total"], "3");
  EXPECT_EQ(read_saved(run + "/checkpoints/step_00000012").optimizer_steps, 9);
}

TEST_F(Faults, NoLimitWithMaxSkippedStepsZero) {
  ProcessResult r = sh(train(dir_ + "/no_limit", "--steps 6 --inject-nan-at 1,2,3,4,5 --max-skipped-steps 0"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("(5 in a row, 5 in total)"), std::string::npos) << r.out;
}

// A loss spike of +1000 on rank 0 at step 30: the guard (window of 20 accepted losses) skips it; the window is in
// the checkpoint, so a run resumed at step 25 skips the same step and continues bit-exactly.
TEST_F(Faults, SpikeGuardSkipsASpikeAndItsWindowResumes) {
  const std::string a = dir_ + "/spike_a", b = dir_ + "/spike_b", off = dir_ + "/spike_off";
  const std::string flags = "--decay-steps 34 --spike-guard 6 --spike-window 20 --inject-spike-at 30";
  ProcessResult r = sh(train(a, flags + " --steps 34"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("warning: step 30: loss 10"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("standard deviations above the mean"), std::string::npos) << r.out;
  EXPECT_EQ(count_of(r.out, "far above"), 0u) << r.out;  // a skipped spike is not a divergence
  EXPECT_NE(r.out.find("of the last 20 accepted losses (--spike-guard 6): update skipped"), std::string::npos) << r.out;
  EXPECT_EQ(count_of(r.out, "update skipped"), 1u) << r.out;
  StepFields ma = read_metrics(a);
  EXPECT_EQ(ma[30]["skipped"], "1");
  r = sh(train(b, flags + " --steps 25"));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(train(b, flags + " --steps 34 --resume latest"));
  ASSERT_EQ(r.code, 0) << r.out;
  StepFields mb = read_metrics(b);
  EXPECT_EQ(mb[30]["skipped"], "1") << "the resumed run did not skip the spike (window not restored?)";
  for (int step = 26; step <= 34; ++step) EXPECT_EQ(ma[step]["loss"], mb[step]["loss"]) << "step " << step;
  // Without the guard the same spike is applied (and the loss far above ln(vocab) warns once).
  r = sh(train(off, "--decay-steps 34 --inject-spike-at 30 --steps 34"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(count_of(r.out, "update skipped"), 0u) << r.out;
  EXPECT_NE(r.out.find("warning: step 30: loss 10"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("is far above ln(vocab) = 5.55"), std::string::npos) << r.out;
}

TEST_F(Faults, HugeLearningRateWarnsOnceThatTheLossDiverges) {
  ProcessResult r = sh(train(dir_ + "/lr10", "--steps 20", "--lr 10 --warmup 1"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(count_of(r.out, "is far above ln(vocab) = 5.55 (diverging? lower --lr"), 1u) << r.out;
  r = sh(train(dir_ + "/lr_ok", "--steps 20"));  // an ordinary run says nothing
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(count_of(r.out, "far above"), 0u) << r.out;
}

TEST_F(Faults, FaultFlagsRejectBadValues) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--inject-nan-at 3,x", "--inject-nan-at: 'x' is not a step number"},
      {"--inject-spike-at 0", "--inject-spike-at: '0' is not a step number"},
      {"--spike-window 5", "--spike-window must be >= 20"},
      {"--spike-guard=-1", "--spike-guard must be >= 0"},
      {"--max-skipped-steps=-2", "--max-skipped-steps must be >= 0"},
  };
  for (const auto& [flags, message] : cases) {
    ProcessResult r = sh(train(dir_ + "/bad", "--steps 2 " + flags));
    EXPECT_EQ(r.code, 2) << flags << "\n" << r.out;
    EXPECT_NE(r.out.find(message), std::string::npos) << flags << "\n" << r.out;
  }
  ProcessResult help = sh(weft() + " train --help");
  EXPECT_NE(help.out.find("--inject-nan-at"), std::string::npos);
  EXPECT_NE(help.out.find("testing:"), std::string::npos);
}

}  // namespace
}  // namespace weft::test
