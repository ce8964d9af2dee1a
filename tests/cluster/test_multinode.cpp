// Multi-node data parallelism on network-namespace nodes (label multinode): tests/cluster/netns_nodes.sh
// makes 2 "nodes" (namespaces on a bridge, own hostnames) and runs mpirun across them through
// cluster/mpirun_hosts.sh, TCP between the nodes. 2 nodes x 2 ranks equal 1 node x 4 ranks and one process;
// the launch report names each rank's node and local rank; a 2-node checkpoint resumes on one node; a killed
// node ends the job; a node whose link goes down ends the job naming that node, and the last checkpoint
// still loads. Skipped where namespaces cannot be made (not root, no iproute2) or mpirun is missing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "launch/checkpoint.h"
#include "models/transformer/transformer.h"
#include "tests/harness/gradcheck.h"
#include "tests/harness/process.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using weft::test::run_shell;

const std::string kScript = std::string(WEFT_SOURCE_DIR) + "/tests/cluster/netns_nodes.sh";

class MultiNode : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (run_shell("command -v mpirun").code != 0) {
      skip_ = "mpirun not found";
      return;
    }
    dir_ = (fs::temp_directory_path() / ("weft_multinode_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    // The guard in netns_nodes.sh removes the nodes when this process dies, even without TearDownTestSuite.
    auto up = run_shell("WEFT_NETNS_OWNER=" + std::to_string(::getpid()) + " " + kScript + " up " + nodes() + " 2");
    if (up.code == 77) {
      skip_ = up.out;
      return;
    }
    ASSERT_EQ(up.code, 0) << up.out;
    auto prep = run_shell(std::string(WEFT_BINARY) + " prepare --builtin stories --out " + dir_ + "/data --tokens 80000");
    ASSERT_EQ(prep.code, 0) << prep.out;
    prefix_ = state("prefix");
  }
  static void TearDownTestSuite() {
    if (dir_.empty()) return;
    run_shell(kScript + " down " + nodes());
    fs::remove_all(dir_);
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  static std::string nodes() { return dir_ + "/nodes"; }
  static std::string state(const std::string& key) {
    std::ifstream in(nodes() + "/state");
    for (std::string l; std::getline(in, l);)
      if (l.rfind(key + "=", 0) == 0) return l.substr(key.size() + 1);
    return "";
  }
  static std::string flags(const std::string& out, const std::string& extra) {
    return "--data " + dir_ + "/data --out " + out +
           " --d-model 16 --n-layers 2 --n-heads 2 --seq-len 16 --threads 1 --eval-every 0 --eval-batches 0"
           " --log-every 1 --batch-size 4 " + extra;
  }
  // `weft train FLAGS` on RANKS ranks spread over the 2 namespace nodes (2 slots each).
  static std::string on_nodes(int ranks, const std::string& train_flags) {
    return "WEFT=" + std::string(WEFT_BINARY) + " " + kScript + " mpirun " + nodes() + " " + std::to_string(ranks) +
           " " + train_flags;
  }
  static std::string one_node(int ranks, const std::string& train_flags) {
    return (ranks > 1 ? weft::test::mpirun(ranks) : std::string()) + WEFT_BINARY + " train " + train_flags;
  }
  static std::map<int, double> losses(const std::string& run) {
    std::map<int, double> m;
    std::ifstream in(run + "/metrics.jsonl");
    for (std::string line; std::getline(in, line);) {
      size_t s = line.find("\"step\": "), l = line.find("\"loss\": ");
      if (s != std::string::npos && l != std::string::npos) m[std::stoi(line.substr(s + 8))] = std::stod(line.substr(l + 8));
    }
    return m;
  }
  static std::vector<double> weights(const std::string& checkpoint) {
    weft::models::TransformerConfig c;
    c.vocab_size = 257;
    c.d_model = 16;
    c.n_layers = 2;
    c.n_heads = 2;
    c.max_seq_len = 16;
    weft::models::Transformer model(c);
    weft::ParamStore store;
    model.declare(store);
    store.finalize();
    weft::launch::load_checkpoint(checkpoint, store, nullptr, nullptr);
    return weft::test::to_host_doubles(store.values());
  }
  static std::string latest(const std::string& run) { return weft::launch::resolve_checkpoint(run, "latest"); }

  // A long 2-node run in the background (output in RUN.log, exit code in RUN.log.rc); returns once its
  // first checkpoint is written, false if the run ends or writes none within a minute.
  static bool start_long_run(const std::string& run, const std::string& extra) {
    run_shell("(" + on_nodes(4, flags(run, "--steps 100000 --save-every 20 " + extra)) + " > " + run +
              ".log 2>&1; echo $? > " + run + ".log.rc) > /dev/null 2>&1 &");
    for (auto t0 = Clock::now(); Clock::now() - t0 < std::chrono::seconds(60);) {
      if (fs::exists(run + "/checkpoints/latest")) return true;
      if (fs::exists(run + ".log.rc")) return false;  // ended before its first checkpoint
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }
  // Seconds until the background run ends (its exit code in `code`), or -1 after `limit` seconds.
  static double wait_for_end(const std::string& run, double limit, int& code) {
    const auto t0 = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - t0).count() < limit) {
      std::ifstream rc(run + ".log.rc");
      if (rc >> code) return std::chrono::duration<double>(Clock::now() - t0).count();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Processes of the training job still alive on node I (0 when the node has none left).
  static int weft_processes_on(int node) {
    auto r = run_shell("ip netns pids " + prefix_ + "n" + std::to_string(node) + " | xargs -r ps -o comm= -p | grep -c weft");
    return std::atoi(r.out.c_str());
  }

  static std::string dir_, prefix_, skip_;
};
std::string MultiNode::dir_, MultiNode::prefix_, MultiNode::skip_;

TEST_F(MultiNode, TwoNodesTimesTwoRanksEqualOneNodeAndOneProcess) {
  const std::string common = "--steps 12 --warmup 2 --seed 3 --decay-steps 12";
  const std::string r1 = dir_ + "/single", r14 = dir_ + "/node1x4", r22 = dir_ + "/nodes2x2";
  auto a = run_shell(one_node(1, flags(r1, common + " --grad-accum 4")));
  ASSERT_EQ(a.code, 0) << a.out;
  auto b = run_shell(one_node(4, flags(r14, common + " --grad-accum 1")));
  ASSERT_EQ(b.code, 0) << b.out;
  // Small buckets: several all-reduces over TCP overlap the backward.
  auto c = run_shell(on_nodes(4, flags(r22, common + " --grad-accum 1 --bucket-mb 0.01")));
  ASSERT_EQ(c.code, 0) << c.out;
  auto l1 = losses(r1), l14 = losses(r14), l22 = losses(r22);
  ASSERT_EQ(l22.size(), 12u) << c.out;
  for (int step = 1; step <= 12; ++step) {
    EXPECT_NEAR(l22[step], l14[step], 1e-5 * std::fabs(l14[step])) << "2x2 vs 1x4, step " << step;
    EXPECT_NEAR(l22[step], l1[step], 1e-5 * std::fabs(l1[step])) << "2x2 vs one process, step " << step;
  }
  auto w1 = weights(latest(r1)), w14 = weights(latest(r14)), w22 = weights(latest(r22));
  ASSERT_EQ(w22.size(), w1.size());
  double d1 = 0, d14 = 0;
  for (size_t i = 0; i < w1.size(); ++i) {
    d1 = std::max(d1, std::fabs(w22[i] - w1[i]));
    d14 = std::max(d14, std::fabs(w22[i] - w14[i]));
  }
  EXPECT_LE(d1, 1e-5);
  EXPECT_LE(d14, 1e-5);
}

TEST_F(MultiNode, LaunchReportNamesEachRanksNodeAndLocalRank) {
  auto r = run_shell(on_nodes(4, flags(dir_ + "/report", "--steps 1")));
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string n0 = prefix_ + "n0", n1 = prefix_ + "n1";
  EXPECT_NE(r.out.find("mpirun: rank 0 of 4, local rank 0 of 2 on " + n0 + ","), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ranks by node (rank/local rank): " + n0 + " 0/0 1/1; " + n1 + " 2/0 3/1\n"), std::string::npos)
      << r.out;
  // Three ranks on two 2-slot nodes: by slot, node 1 gets rank 2 alone.
  auto three = run_shell(on_nodes(3, flags(dir_ + "/report3", "--steps 1")));
  ASSERT_EQ(three.code, 0) << three.out;
  EXPECT_NE(three.out.find("ranks by node (rank/local rank): " + n0 + " 0/0 1/1; " + n1 + " 2/0\n"), std::string::npos)
      << three.out;
}

TEST_F(MultiNode, TwoNodeCheckpointResumesOnOneNode) {
  const std::string common = "--steps 10 --warmup 2 --seed 5 --decay-steps 10 --save-every 5";
  const std::string run = dir_ + "/two_nodes", cont = dir_ + "/resumed_on_one";
  auto a = run_shell(on_nodes(4, flags(run, common)));
  ASSERT_EQ(a.code, 0) << a.out;
  fs::create_directories(cont + "/checkpoints");
  fs::copy(run + "/checkpoints/step_00000005", cont + "/checkpoints/step_00000005");
  std::ofstream(cont + "/checkpoints/latest") << "step_00000005\n";
  // Same global batch (4 ranks x 4) on one node with 2 ranks x 2 micro-batches.
  auto b = run_shell(one_node(2, flags(cont, common + " --grad-accum 2 --resume latest")));
  ASSERT_EQ(b.code, 0) << b.out;
  EXPECT_NE(b.out.find("resumed from"), std::string::npos) << b.out;
  auto la = losses(run), lb = losses(cont);
  for (int step = 6; step <= 10; ++step) {
    ASSERT_TRUE(lb.count(step)) << "step " << step << " missing after the resume\n" << b.out;
    EXPECT_NEAR(lb[step], la[step], 1e-5 * std::fabs(la[step])) << "step " << step;
  }
}

TEST_F(MultiNode, KilledNodeEndsTheJobOnTheOtherWithin30s) {
  const std::string run = dir_ + "/killed";
  ASSERT_TRUE(start_long_run(run, "--collective-timeout 60")) << read(run + ".log");
  ASSERT_GT(weft_processes_on(1), 0);
  ASSERT_EQ(run_shell(kScript + " kill " + nodes() + " 1").code, 0);
  int code = 0;
  const double seconds = wait_for_end(run, 30, code);
  const std::string log = read(run + ".log");
  ASSERT_GE(seconds, 0) << "the job still runs 30 s after node 1 was killed\n" << log;
  EXPECT_NE(code, 0) << log;
  EXPECT_EQ(weft_processes_on(0), 0) << "ranks left running on node 0";
  std::printf("job ended %.1f s after node 1 was killed (exit %d)\n", seconds, code);
}

TEST_F(MultiNode, LinkDownEndsTheJobNamingTheLostNodeAndTheCheckpointLoads) {
  const std::string run = dir_ + "/link_down";
  // The watchdog ends the isolated node's ranks; mpirun's out-of-band keepalive (netns_nodes.sh: ~8 s) finds
  // the lost node first and names it.
  ASSERT_TRUE(start_long_run(run, "--collective-timeout 20")) << read(run + ".log");
  ASSERT_EQ(run_shell(kScript + " link " + nodes() + " 1 down").code, 0);
  int code = 0;
  const double seconds = wait_for_end(run, 60, code);
  const std::string log = read(run + ".log");
  ASSERT_GE(seconds, 0) << "the job still runs 60 s after node 1's link went down\n" << log;
  EXPECT_NE(code, 0) << log;
  EXPECT_NE(log.find("on node " + prefix_ + "n1"), std::string::npos) << "the lost node is not named\n" << log;
  std::printf("job ended %.1f s after node 1's link went down (exit %d)\n", seconds, code);
  // The isolated node's ranks end too (their collectives time out), without being killed.
  const auto t0 = Clock::now();
  while (weft_processes_on(1) > 0 && Clock::now() - t0 < std::chrono::seconds(45))
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(weft_processes_on(1), 0) << "ranks still running on the isolated node";
  run_shell(kScript + " link " + nodes() + " 1 up");
  // The last checkpoint loads and the run continues from it on one node.
  const std::string checkpoint = latest(run);
  EXPECT_EQ(weights(checkpoint).size(), 10960u);
  const std::string step = fs::path(checkpoint).filename().string();
  const int saved = std::stoi(step.substr(5));
  auto r = run_shell(one_node(2, flags(run, "--grad-accum 2 --collective-timeout 20 --resume latest --steps " +
                                                 std::to_string(saved + 2))));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("resumed from"), std::string::npos) << r.out;
}

}  // namespace
