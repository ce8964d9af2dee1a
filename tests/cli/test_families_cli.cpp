// Every registered family (each tiny test configuration, ModelFamily::test_configs) through the real `weft`
// binary: `train --model NAME --help` lists its flags and no other family's own flags; a run saved every 3
// steps evaluates, and a run stopped at 3 and resumed reproduces the uninterrupted run's metrics bit for bit
// (state across steps included: it must be in the checkpoint's state/ group); another family's key is refused
// with exit code 2 naming it, on the command line and in a config file.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/cli/family_runs.h"

namespace weft::test {
namespace {

namespace fs = std::filesystem;

ProcessResult sh(const std::string& cmd) { return run_shell(cmd); }
std::string weft() { return WEFT_BINARY; }

class FamilyCli : public ::testing::TestWithParam<FamilyCase> {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_families_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ProcessResult r = sh(weft() + " prepare --builtin stories --out " + dir_ + "/data --tokens 80000");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string train(const FamilyCase& c, const std::string& out, const std::string& extra) {
    return weft() + " train --data " + dir_ + "/data --out " + out + family_args(c) +
           " --batch-size 2 --threads 1 --eval-every 0 --eval-batches 0 --log-every 1 --warmup 2 --seed 5 " + extra;
  }
  std::string run_dir(const std::string& what) const { return dir_ + "/" + family_case_name(GetParam()) + "_" + what; }
  static std::string dir_;
};
std::string FamilyCli::dir_;

TEST_P(FamilyCli, HelpListsTheFamilysFlagsOnly) {
  const FamilyCase& c = GetParam();
  ProcessResult r = sh(weft() + " train --model " + c.family + " --help");
  ASSERT_EQ(r.code, 0) << r.out;
  const models::ModelFamily& fam = models::find_model_family(c.family);
  std::set<std::string> own;
  for (const models::Flag& f : models::model_flags(fam)) {
    own.insert(f.key);
    EXPECT_NE(r.out.find("\n  --" + f.key + " "), std::string::npos) << "--" << f.key << " missing:\n" << r.out;
  }
  for (const models::ModelFamily& other : models::model_families()) {
    for (const models::Flag& f : other.flags()) {
      if (own.count(f.key)) continue;
      EXPECT_EQ(r.out.find("\n  --" + f.key + " "), std::string::npos)
          << other.name << "'s --" << f.key << " listed:\n" << r.out;
    }
  }
}

TEST_P(FamilyCli, CheckpointEvaluatesAndResumeIsBitExact) {
  const FamilyCase& c = GetParam();
  const std::string whole = run_dir("whole"), split = run_dir("split");
  ProcessResult r = sh(train(c, whole, "--steps 6 --decay-steps 6 --save-every 3"));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(weft() + " eval --checkpoint " + whole + " --batches 2 --batch-size 2 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"loss\": "), std::string::npos) << r.out;
  const bool stateful = family_model(c)->has_state();
  const std::string third = whole + "/checkpoints/step_00000003";
  ASSERT_TRUE(fs::exists(third));
  EXPECT_GT(manifest_entries(third, "params"), 0);
  EXPECT_EQ(manifest_entries(third, "state") > 0, stateful)
      << (stateful ? "a stateful model's checkpoint has no state/ group" : "a stateless model's checkpoint has state/");

  r = sh(train(c, split, "--steps 3 --decay-steps 6 --save-every 3"));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(train(c, split, "--steps 6 --decay-steps 6 --save-every 3 --resume auto"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("resumed from"), std::string::npos) << r.out;

  const StepFields a = read_metrics(whole), b = read_metrics(split);
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), 6u);
  const std::vector<std::string> aux = family_aux_names(c);
  for (int step = 1; step <= 6; ++step) {
    const auto& fa = a.at(step);
    const auto& fb = b.at(step);
    for (const std::string& name : aux)
      EXPECT_TRUE(fa.count(name)) << "aux term '" << name << "' not in metrics.jsonl at step " << step;
    for (const auto& [key, value] : fa) {
      if (timing_field(key)) continue;
      ASSERT_TRUE(fb.count(key)) << "resumed run lacks '" << key << "' at step " << step;
      EXPECT_EQ(fb.at(key), value) << key << " at step " << step << " (resumed at 3)";
    }
  }
  EXPECT_NE(a.at(1).at("loss"), a.at(6).at("loss")) << "it trained";
  const std::vector<double> wa = final_weights(c, whole), wb = final_weights(c, split);
  ASSERT_EQ(wa.size(), wb.size());
  size_t differ = 0;
  for (size_t i = 0; i < wa.size(); ++i) differ += wa[i] != wb[i];
  EXPECT_EQ(differ, 0u) << "of " << wa.size() << " final weights differ after the resume";
}

TEST_P(FamilyCli, AnotherFamilysKeyIsRefusedByName) {
  const FamilyCase& c = GetParam();
  const models::ModelFamily& fam = models::find_model_family(c.family);
  std::set<std::string> own;
  for (const models::Flag& f : models::model_flags(fam)) own.insert(f.key);
  int tried = 0;
  for (const models::ModelFamily& other : models::model_families()) {
    for (const models::Flag& f : other.flags()) {
      if (own.count(f.key) || tried >= 6) continue;  // a few keys per pair of families keep this short
      ++tried;
      ProcessResult r = sh(train(c, run_dir("foreign"), "--steps 1 --" + f.key + "=" + f.default_value));
      EXPECT_EQ(r.code, 2) << other.name << "'s --" << f.key << ":\n" << r.out;
      EXPECT_NE(r.out.find("--" + f.key), std::string::npos) << r.out;
      const std::string ini = run_dir("foreign.ini");
      std::ofstream(ini) << "[model]\n" << f.key << " = " << f.default_value << "\n";
      r = sh(train(c, run_dir("foreign"), "--steps 1 --config " + ini));
      EXPECT_EQ(r.code, 2) << other.name << "'s " << f.key << " in a config file:\n" << r.out;
      EXPECT_NE(r.out.find(f.key), std::string::npos) << r.out;
    }
  }
  EXPECT_FALSE(fs::exists(run_dir("foreign") + "/checkpoints")) << "a refused run trained";
}

INSTANTIATE_TEST_SUITE_P(Registered, FamilyCli, ::testing::ValuesIn(family_cases()),
                         [](const auto& info) { return family_case_name(info.param); });

}  // namespace
}  // namespace weft::test
