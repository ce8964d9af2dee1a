// `weft bench` on one rank (issue 13): the MACs per token it prints and writes are the spec's A.7 counts
// (MoeutConfig::macs_per_token for moeut; L (2 H dh T + 4 d H dh + 2 d dff) for the transformer), the --json
// line holds macs_per_token and all_to_all_bytes_per_step (0 without expert parallelism), and
// --expert-parallel that does not fit one rank exits 2 naming the flag; --segments K (issue 14) runs K
// consecutive segments through a model with state and reports the last one, and exits 2 on a stateless model.
// --cpu-gemm (issue 18) names the f32 GEMM library in the report and the --json line, whatever
// OPENBLAS_CORETYPE says for oneDNN, and both libraries train to the same loss up to f32 rounding.
// Multi-rank runs: test_bench_mpi.cpp.
#include <gtest/gtest.h>

#include <map>
#include <regex>

#include "runtime/exec.h"
#include "tests/cli/bench_runs.h"

namespace weft::test {
namespace {

TEST(Bench, MoeutReportsSpecMacsAndNoAllToAll) {
  const std::string json = bench_json_path("moeut");
  ProcessResult r = run_shell(weft_binary() + tiny_moeut_bench_args() + "--json " + json);
  ASSERT_EQ(r.code, 0) << r.out;
  const double expected = tiny_moeut().macs_per_token(32);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(MACs/token \(spec A\.7 formula, no LM head\): ([0-9]+))")))
      << r.out;
  EXPECT_NEAR(std::stod(m[1].str()), expected, 0.5) << r.out;  // printed as an integer
  EXPECT_NE(r.out.find("all-to-all 0 bytes/step"), std::string::npos) << r.out;

  auto f = last_json_line(json);
  ASSERT_TRUE(f.count("macs_per_token") && f.count("all_to_all_bytes_per_step")) << r.out;
  EXPECT_DOUBLE_EQ(std::stod(f["macs_per_token"]), expected);
  EXPECT_EQ(f["macs_formula"], "\"spec_a7\"");
  EXPECT_EQ(std::stod(f["all_to_all_bytes_per_step"]), 0.0);
  EXPECT_EQ(f["ranks"], "1");
  EXPECT_EQ(f["parameters"], std::to_string(tiny_moeut().param_count()));
  EXPECT_GT(std::stod(f["tokens_per_s"]), 0.0);
  std::filesystem::remove(json);
}

TEST(Bench, TransformerReportsDenseSpecMacs) {
  const std::string json = bench_json_path("dense");
  ProcessResult r = run_shell(weft_binary() +
                              " bench --model transformer --vocab-size 64 --seq-len 32 --d-model 24 --n-layers 2"
                              " --n-heads 3 --d-ff 40 --activation relu --batch-size 2 --steps 2 --warmup-steps 1"
                              " --threads 1 --json " + json);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("MACs/token (spec A.7 formula, no LM head)"), std::string::npos) << r.out;
  const double d = 24, H = 3, dh = 8, T = 32, F = 40, L = 2;  // A.7's dense count
  const double expected = L * (2 * H * dh * T + 4 * d * H * dh + 2 * d * F);
  auto f = last_json_line(json);
  EXPECT_DOUBLE_EQ(std::stod(f["macs_per_token"]), expected);
  EXPECT_EQ(std::stod(f["all_to_all_bytes_per_step"]), 0.0);
  std::filesystem::remove(json);
}

TEST(Bench, ExpertParallelNeedsTheRanks) {
  ProcessResult r = run_shell(weft_binary() + tiny_moeut_bench_args() + "--expert-parallel 2");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--expert-parallel"), std::string::npos) << r.out;
}

TEST(Bench, CpuGemmIsReportedAndBothLibrariesAgree) {
  const std::string base = weft_binary() +
                           " bench --device cpu --model transformer --vocab-size 64 --seq-len 32 --d-model 32"
                           " --n-layers 2 --n-heads 2 --batch-size 2 --steps 3 --warmup-steps 0 --threads 1 ";
  std::map<std::string, double> loss;
  for (std::string lib : {"openblas", "onednn"}) {
    const std::string json = bench_json_path("gemm_" + lib);
    ProcessResult r = run_shell("OPENBLAS_CORETYPE=Haswell " + base + "--cpu-gemm " + lib + " --json " + json);
    if (lib == "onednn" && r.code == 2 && r.out.find("built without oneDNN") != std::string::npos) continue;
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("f32 GEMMs: " + lib + " "), std::string::npos) << r.out;
    if (lib == "openblas") {
      EXPECT_NE(r.out.find("(Haswell kernels)"), std::string::npos) << r.out;
    } else {
      EXPECT_EQ(r.out.find("Haswell"), std::string::npos) << r.out;
    }
    auto f = last_json_line(json);
    EXPECT_EQ(f["cpu_gemm"].rfind("\"" + lib + " ", 0), 0u) << f["cpu_gemm"];
    loss[lib] = std::stod(f["loss"]);
    std::filesystem::remove(json);
  }
  if (loss.size() == 2) {
    EXPECT_NEAR(loss["openblas"], loss["onednn"], 1e-4);
  }
  ProcessResult bad = run_shell(base + "--cpu-gemm mkl");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("--cpu-gemm"), std::string::npos) << bad.out;
}

// --attention-backend and --norm-backend: a bad name is a usage error naming the flag; `cudnn` in a build without
// cuDNN's graphs (every CPU-only build, and a CUDA build that did not find the cudnn-frontend headers) is refused
// before anything runs, naming what is missing; `weft` and `auto` are accepted on the CPU (where they change nothing).
TEST(Bench, KernelBackendFlags) {
  const std::string base = weft_binary() +
                           " bench --device cpu --model transformer --vocab-size 64 --seq-len 16 --d-model 16"
                           " --n-layers 1 --n-heads 2 --batch-size 1 --steps 1 --warmup-steps 0 --threads 1 ";
  ProcessResult bad = run_shell(base + "--attention-backend flash");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("--attention-backend must be auto, cudnn or weft, got 'flash'"), std::string::npos) << bad.out;
  for (const char* ok : {"weft", "auto"}) {
    ProcessResult r = run_shell(base + "--attention-backend " + ok);
    EXPECT_EQ(r.code, 0) << ok << ": " << r.out;
  }
  ProcessResult bad_norm = run_shell(base + "--norm-backend apex");
  EXPECT_EQ(bad_norm.code, 2) << bad_norm.out;
  EXPECT_NE(bad_norm.out.find("--norm-backend must be auto, cudnn or weft, got 'apex'"), std::string::npos)
      << bad_norm.out;
  for (const char* flag : {"attention", "norm"}) {
    ProcessResult cudnn = run_shell(base + "--" + flag + "-backend cudnn");
    if (cuda::cudnn_attention_built()) {
      EXPECT_EQ(cudnn.code, 0) << cudnn.out;
    } else {
      EXPECT_EQ(cudnn.code, 2) << cudnn.out;
      EXPECT_NE(cudnn.out.find(std::string("--") + flag + "-backend cudnn: this weft was built without cuDNN's"),
                std::string::npos)
          << cudnn.out;
    }
  }
}

TEST(Bench, SegmentsRunThroughTheModelState) {
  const std::string json = bench_json_path("segments");
  ProcessResult r = run_shell(weft_binary() +
                              " bench --model infinite --vocab-size 32 --seq-len 16 --d-model 16 --n-layers 1"
                              " --n-heads 2 --ltm-basis 16 --ltm-samples 16 --batch-size 2 --steps 1"
                              " --warmup-steps 0 --threads 1 --segments 3 --json " + json);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("3 consecutive segments of T=16 per stream"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("last segment (2 of history)"), std::string::npos) << r.out;
  auto f = last_json_line(json);
  EXPECT_EQ(f["segments"], "3");
  EXPECT_GT(std::stod(f["ms_per_segment_all"]), 0.0);
  EXPECT_GT(std::stod(f["ms_per_step"]), 0.0);
  std::filesystem::remove(json);
}

TEST(Bench, SegmentsNeedAModelWithState) {
  ProcessResult r = run_shell(weft_binary() +
                              " bench --model transformer --vocab-size 32 --seq-len 16 --d-model 16 --n-layers 1"
                              " --n-heads 2 --batch-size 2 --steps 1 --warmup-steps 0 --threads 1 --segments 2");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--segments"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace weft::test
