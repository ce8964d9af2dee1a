// The weft command line end to end: bad flags, bad configuration files, bad data and contradicting
// checkpoints give one clear line naming the flag, key or file and exit code 2; a tiny run trains,
// checkpoints, resumes, evaluates, samples and plots.
#include <gtest/gtest.h>

#include "tests/harness/process.h"
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;

using Result = weft::test::ProcessResult;
Result run(const std::string& args) { return weft::test::run_shell(std::string(WEFT_BINARY) + " " + args); }

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_cli_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    Result r = run("prepare --builtin stories --out " + dir_ + "/data --tokens 60000");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  // A tiny training command line; `overrides` ("--flag value ...") replace the defaults they name and
  // flags listed in `omit` are left out (so a --config file can set them).
  static std::string tiny(const std::string& overrides = "", const std::string& omit = "") {
    const char* defaults[][2] = {{"--data", nullptr}, {"--d-model", "16"}, {"--n-layers", "1"}, {"--n-heads", "2"},
                                 {"--seq-len", "16"}, {"--batch-size", "2"}, {"--threads", "1"}, {"--warmup", "0"},
                                 {"--eval-batches", "2"}, {"--log-every", "1"}};
    std::string args = " ";
    for (auto& d : defaults) {
      std::string flag = d[0];
      if ((" " + overrides + " " + omit + " ").find(" " + flag + " ") != std::string::npos) continue;
      args += flag + " " + (d[1] ? std::string(d[1]) : dir_ + "/data") + " ";
    }
    return args + overrides + " ";
  }
  static void expect_usage_error(const std::string& args, const std::string& fragment) {
    Result r = run(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(fragment), std::string::npos) << args << "\n" << r.out;
  }
  static std::string dir_;
};
std::string Cli::dir_;

TEST_F(Cli, UnknownFlagMissingFlagInvalidValue) {
  expect_usage_error("train --bogus 3" + tiny("--out x"), "unrecognised option '--bogus'");
  expect_usage_error("train --out x", "the option '--data' is required");
  expect_usage_error("train" + tiny("--out x --d-model abc"), "the argument ('abc') for option '--d-model' is invalid");
  expect_usage_error("frobnicate", "unknown command 'frobnicate'");
}

TEST_F(Cli, InvalidValuesNameTheFlag) {
  expect_usage_error("train" + tiny("--out " + dir_ + "/r0 --n-heads 5"), "--n-heads 5 does not divide --d-model 16");
  expect_usage_error("train" + tiny("--out " + dir_ + "/r0 --batch-size -1"), "--batch-size must be positive");
  expect_usage_error("train" + tiny("--out " + dir_ + "/r0 --position xpos"), "--position: unknown scheme 'xpos'");
  expect_usage_error("train" + tiny("--out " + dir_ + "/r0 --warmup 50 --steps 10"), "--warmup must be in [0, --steps = 10]");
}

TEST_F(Cli, ConfigFileKeysAndOverride) {
  std::string ini = dir_ + "/bad.ini";
  std::ofstream(ini) << "[model]\nd-model = 32\nfoo = 1\n";
  expect_usage_error("train" + tiny("--out x --config " + ini), "bad.ini:3: unknown key 'model.foo'");
  std::ofstream(ini) << "[train]\nd-model = 32\n";
  expect_usage_error("train" + tiny("--out x --config " + ini), "unknown key 'train.d-model'");
  std::string good = dir_ + "/good.ini";
  std::ofstream(good) << "[model]\nn-layers = 2\nd-model = 24\n[train]\nsteps = 1\n";
  Result r = run("train" + tiny("--out " + dir_ + "/cfg --config " + good + " --d-model 32", "--n-layers"));
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream saved(dir_ + "/cfg/config.ini");
  std::string all((std::istreambuf_iterator<char>(saved)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("d-model = 32"), std::string::npos) << all;   // command line wins
  EXPECT_NE(all.find("n-layers = 2"), std::string::npos) << all;   // file applies
  EXPECT_NE(all.find("steps = 1\n"), std::string::npos) << all;
}

TEST_F(Cli, CorruptAndMissingData) {
  std::string bad = dir_ + "/bad_data";
  fs::create_directories(bad);
  fs::copy_file(dir_ + "/data/tokenizer.txt", bad + "/tokenizer.txt", fs::copy_options::overwrite_existing);
  fs::copy_file(dir_ + "/data/train.bin", bad + "/train.bin", fs::copy_options::overwrite_existing);
  {
    std::fstream f(bad + "/train.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x7f');
  }
  expect_usage_error("train --data " + bad + " --out " + dir_ + "/r1 --steps 1", "checksum mismatch");
  expect_usage_error("train --data " + bad + " --out " + dir_ + "/r1 --steps 1", bad + "/train.bin");
  expect_usage_error("train --data " + dir_ + "/nowhere --out " + dir_ + "/r1", "tokenizer.txt is missing");
}

TEST_F(Cli, TrainResumeEvalSamplePlot) {
  std::string out = dir_ + "/run";
  Result r = run("train" + tiny("--out " + out + " --steps 4 --save-every 2 --eval-every 2"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("step 4/4 | loss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ETA"), std::string::npos);
  EXPECT_TRUE(fs::exists(out + "/checkpoints/step_00000004/rank_00000.h5"));
  std::ifstream m(out + "/metrics.jsonl");
  std::string first;
  std::getline(m, first);
  for (const char* key : {"\"step\"", "\"loss\"", "\"lr\"", "\"grad_norm\"", "\"tokens\"", "\"tokens_per_s\"", "\"elapsed_s\""})
    EXPECT_NE(first.find(key), std::string::npos) << first;
  // Resume continues from step 4; a contradicting model flag is refused.
  r = run("train" + tiny("--out " + out + " --steps 6 --resume latest"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("resumed from"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step 6/6"), std::string::npos) << r.out;
  expect_usage_error("train" + tiny("--out " + out + " --steps 8 --resume latest --d-model 32"),
                     "--d-model 32 contradicts the checkpoint");
  expect_usage_error("train" + tiny("--out " + dir_ + "/empty --resume latest"), "no checkpoint saved yet");
  r = run("eval --checkpoint " + out + " --batches 2 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"perplexity\""), std::string::npos) << r.out;
  r = run("sample --checkpoint " + out + " --prompt Once --max-new-tokens 10 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("Once", 0), 0u) << r.out;
  r = run("inspect " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("step 6 | tokens seen"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("params/tok_emb.weight"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("optim/v/ln_f.bias"), std::string::npos) << r.out;
  r = run("plot " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(out + "/loss.svg"));
  // Two runs on one plot (the same run twice): both named in the legend; several runs need --output.
  r = run("plot " + out + " " + out + " --output " + dir_ + "/two.svg --val-only");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("2 runs"), std::string::npos) << r.out;
  std::ifstream svg(dir_ + "/two.svg");
  const std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find(" train<"), std::string::npos) << "--val-only drew a train curve";
  EXPECT_NE(text.find(" val<"), std::string::npos);
  r = run("plot " + out + " " + out);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--output"), std::string::npos) << r.out;
}

// --attention-window W: validated naming the flag, shown in the model line, stored in the configuration, and
// applied by eval at another length: two runs from the same initial parameters (lr 1e-9, one step), with and
// without a window, evaluate differently at --seq-len 32; a negative W exits 2 naming the flag.
TEST_F(Cli, AttentionWindowIsStoredAndUsedByEval) {
  expect_usage_error("train" + tiny("--out " + dir_ + "/w0 --attention-window -1"), "--attention-window must be >= 0");
  std::string loss[2];
  for (int windowed : {0, 1}) {
    const std::string out = dir_ + "/window" + std::to_string(windowed);
    Result r = run("train" + tiny("--out " + out + " --n-layers 2 --position alibi --steps 1 --lr 1e-9 --min-lr 0"
                                  " --attention-window " + (windowed ? "4" : "0")));
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(r.out.find("model transformer (attention window 4): ") != std::string::npos, windowed == 1) << r.out;
    std::ifstream ini(out + "/config.ini");
    const std::string text((std::istreambuf_iterator<char>(ini)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find(windowed ? "attention-window = 4\n" : "attention-window = 0\n"), std::string::npos) << text;
    r = run("eval --checkpoint " + out + " --batches 2 --threads 1 --seq-len 32");
    ASSERT_EQ(r.code, 0) << r.out;
    const size_t p = r.out.find("{\"loss\": ");
    ASSERT_NE(p, std::string::npos) << r.out;
    loss[windowed] = r.out.substr(p + 9, r.out.find(',', p) - p - 9);
  }
  EXPECT_NE(loss[0], loss[1]) << "eval at --seq-len 32 ignored the checkpoint's attention-window";
}

TEST_F(Cli, EveryPositionSchemeTrains) {
  for (const char* pos : {"learned", "sinusoidal", "rope", "alibi", "sandwich", "none"}) {
    std::string out = dir_ + "/pos_" + pos;
    Result r = run("train" + tiny(std::string("--out ") + out + " --position " + pos +
                                  " --d-model 32 --seq-len 32 --batch-size 4 --steps 30 --lr 3e-3 --eval-every 30"));
    ASSERT_EQ(r.code, 0) << pos << "\n" << r.out;
    std::ifstream m(out + "/metrics.jsonl");
    std::string line;
    double first = -1, val = -1;
    while (std::getline(m, line)) {
      size_t p = line.find("\"loss\": "), v = line.find("\"val_loss\": ");
      if (p != std::string::npos && first < 0) first = std::stod(line.substr(p + 8));
      if (v != std::string::npos) val = std::stod(line.substr(v + 12));
    }
    EXPECT_GT(first, 4.5) << pos;  // ~ln(257) at the start
    EXPECT_LT(val, first - 1.5) << pos << ": the validation loss must fall well below the initial loss";
  }
}

}  // namespace
