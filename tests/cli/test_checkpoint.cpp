// Checkpoints: bit-exact resume (dropout and gradient accumulation on), every corruption case with an
// error naming the file or dataset, a fuzz of random byte flips that must never crash, kill -9 during
// saves, a file-size limit during a save, another configuration's checkpoint, h5py readability, and --init-from
// (partial initialisation from another run).
#include <gtest/gtest.h>

#include "tests/harness/process.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "launch/checkpoint.h"
#include "models/transformer/transformer.h"
#include "runtime/checkpoint/h5.h"
#include "runtime/checkpoint/manifest.h"

namespace {

namespace fs = std::filesystem;

using Result = weft::test::ProcessResult;
Result sh(const std::string& cmd) { return weft::test::run_shell(cmd); }

std::string weft() { return WEFT_BINARY; }

class Checkpoint : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("weft_ckpt_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
    ASSERT_EQ(sh(weft() + " prepare --builtin stories --out " + dir_ + "/data --tokens 80000").code, 0);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string train(const std::string& out, const std::string& extra, int d_model = 16) {
    return weft() + " train --data " + dir_ + "/data --out " + out + " --d-model " + std::to_string(d_model) +
           " --n-layers 2 --n-heads 2 --seq-len 16 --batch-size 2 --threads 1 --eval-every 0"
           " --eval-batches 0 --log-every 1 " + extra;
  }
  // step -> "loss grad_norm" as written (17 significant digits: exact doubles).
  static std::map<int, std::string> losses(const std::string& run) {
    std::map<int, std::string> m;
    std::ifstream in(run + "/metrics.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      auto field = [&](const std::string& k) {
        size_t p = line.find("\"" + k + "\": ");
        if (p == std::string::npos) return std::string();
        p += k.size() + 4;
        return line.substr(p, line.find_first_of(",}", p) - p);
      };
      if (!field("loss").empty()) m[std::stoi(field("step"))] = field("loss") + " " + field("grad_norm");
    }
    return m;
  }
  static std::string dir_;
};
std::string Checkpoint::dir_;

TEST_F(Checkpoint, ResumeIsBitExactWithDropoutAndGradAccum) {
  const std::string flags = "--dropout 0.1 --grad-accum 2 --decay-steps 40 --warmup 5 --seed 7";
  std::string a = dir_ + "/a", b = dir_ + "/b";
  Result r = sh(train(a, flags + " --steps 40 --save-every 20"));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(train(b, flags + " --steps 20"));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(train(b, flags + " --steps 40 --resume latest"));
  ASSERT_EQ(r.code, 0) << r.out;
  auto la = losses(a), lb = losses(b);
  for (int step = 21; step <= 40; ++step) {
    ASSERT_TRUE(la.count(step) && lb.count(step)) << step;
    EXPECT_EQ(la[step], lb[step]) << "step " << step;
  }
  EXPECT_NE(la[21], la[40]);  // it trained
}

TEST_F(Checkpoint, CorruptionsAreNamed) {
  std::string run = dir_ + "/c";
  ASSERT_EQ(sh(train(run, "--steps 2")).code, 0);
  const std::string good = run + "/checkpoints/step_00000002";
  auto eval_err = [&](const std::string& ckpt) { return sh(weft() + " eval --checkpoint " + ckpt + " --batches 1"); };
  ASSERT_EQ(eval_err(good).code, 0);
  auto copy = [&](const std::string& name) {
    std::string d = dir_ + "/" + name;
    fs::remove_all(d);
    fs::copy(good, d);
    return d;
  };
  // A flipped byte inside a parameter's data: the dataset is named.
  std::string flip = copy("flip");
  std::ifstream man(flip + "/manifest.txt");
  std::string line, kind, file, name;
  int64_t offset = -1, bytes = 0;
  while (std::getline(man, line))
    if (line.find(" params/tok_emb.weight ") != std::string::npos) {
      std::istringstream(line) >> kind >> file >> name >> offset >> bytes;
    }
  ASSERT_GT(offset, 0);
  {
    std::fstream f(flip + "/rank_00000.h5", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(offset + bytes / 2);
    f.put('\x55');
  }
  Result r = eval_err(flip);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("checksum mismatch in dataset 'params/tok_emb.weight'"), std::string::npos) << r.out;
  std::string trunc = copy("trunc");
  fs::resize_file(trunc + "/rank_00000.h5", fs::file_size(trunc + "/rank_00000.h5") - 100);
  r = eval_err(trunc);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("is truncated or padded"), std::string::npos) << r.out;
  std::string nofile = copy("nofile");
  fs::remove(nofile + "/rank_00000.h5");
  r = eval_err(nofile);
  EXPECT_NE(r.out.find("the manifest lists"), std::string::npos) << r.out;
  std::string noman = copy("noman");
  fs::remove(noman + "/manifest.txt");
  r = eval_err(noman);
  EXPECT_NE(r.out.find("has no manifest.txt"), std::string::npos) << r.out;
  std::ofstream(run + "/checkpoints/latest") << "step_00000099\n";
  // A `latest` naming a missing folder: the newest checkpoint that verifies, with a warning (launch/resume.h).
  r = sh(train(run, "--steps 4 --resume latest"));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("latest names step_00000099; using step_00000002"), std::string::npos) << r.out;
}

TEST_F(Checkpoint, RandomByteFlipsNeverCrash) {
  std::string run = dir_ + "/fuzz";
  ASSERT_EQ(sh(train(run, "--steps 1")).code, 0);
  const std::string good = run + "/checkpoints/step_00000001";
  const std::string target = dir_ + "/fuzz_copy";
  std::vector<char> original;
  {
    std::ifstream in(good + "/rank_00000.h5", std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  fs::remove_all(target);
  fs::copy(good, target);
  std::mt19937_64 rng(12345);
  int rejected = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<char> bytes = original;
    size_t at = rng() % bytes.size();
    bytes[at] = static_cast<char>(bytes[at] ^ (1 + rng() % 255));
    {
      std::ofstream out(target + "/rank_00000.h5", std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    try {
      weft::ckpt::verify_checkpoint(target);
      weft::launch::read_checkpoint_meta(target);
    } catch (const weft::Error&) {
      ++rejected;
    }
  }
  EXPECT_EQ(rejected, 300);  // every flip is caught by the manifest before HDF5 parses the file
}

TEST_F(Checkpoint, KillDuringSavesLeavesTheLatestLoadable) {
  std::string run = dir_ + "/kill";
  for (int attempt = 0; attempt < 4; ++attempt) {
    pid_t pid = fork();
    if (pid == 0) {
      std::string cmd = train(run, "--steps 100000 --save-every 1 --keep-checkpoints 2 --resume auto", 64) +
                        " > /dev/null 2>&1";
      execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), nullptr);
      _exit(127);
    }
    usleep(400000 + 250000 * attempt);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    if (!fs::exists(run + "/checkpoints/latest")) continue;
    Result r = sh(weft() + " eval --checkpoint " + run + " --batches 1");
    EXPECT_EQ(r.code, 0) << "attempt " << attempt << ": " << r.out;
  }
  EXPECT_TRUE(fs::exists(run + "/checkpoints/latest"));
}

TEST_F(Checkpoint, FailedSaveKeepsThePreviousCheckpoint) {
  std::string run = dir_ + "/full";
  ASSERT_EQ(sh(train(run, "--steps 2", 64)).code, 0);
  auto size = fs::file_size(run + "/checkpoints/step_00000002/rank_00000.h5");
  // A file-size limit below one checkpoint: the next save fails like a full disk would.
  Result r = sh("ulimit -f " + std::to_string(size / 1024 / 2) + "; " + train(run, "--steps 4 --resume latest", 64));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("rank_00000.h5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("previous checkpoint is intact"), std::string::npos) << r.out;
  std::ifstream latest(run + "/checkpoints/latest");
  std::string name;
  latest >> name;
  EXPECT_EQ(name, "step_00000002");
  EXPECT_EQ(sh(weft() + " eval --checkpoint " + run + " --batches 1").code, 0);
}

TEST_F(Checkpoint, AnotherShapeNamesTheTensorAndBothShapes) {
  std::string run = dir_ + "/shape";
  ASSERT_EQ(sh(train(run, "--steps 1")).code, 0);
  weft::models::TransformerConfig cfg;
  cfg.vocab_size = 257;
  cfg.d_model = 32;
  cfg.n_layers = 2;
  cfg.n_heads = 2;
  cfg.max_seq_len = 16;
  weft::models::Transformer model(cfg);
  weft::ParamStore store;
  model.declare(store);
  store.finalize();
  try {
    weft::launch::load_checkpoint(run + "/checkpoints/step_00000001", store, nullptr, nullptr);
    FAIL();
  } catch (const weft::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'params/tok_emb.weight' has shape (257, 16) but the model expects (257, 32)"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(Checkpoint, H5pyReadsEveryParameterByName) {
  if (sh("/usr/bin/python3 -c 'import h5py'").code != 0) GTEST_SKIP() << "python3-h5py is not installed";
  std::string run = dir_ + "/h5py";
  ASSERT_EQ(sh(train(run, "--steps 1")).code, 0);
  Result r = sh("/usr/bin/python3 -c \"import h5py; f = h5py.File('" + run +
                "/checkpoints/step_00000001/rank_00000.h5', 'r'); names = []; "
                "f['params'].visit(lambda n: names.append(n) if isinstance(f['params'][n], h5py.Dataset) else None); "
                "print(f.attrs['step'], len(names), sorted(names)[0], f['params/tok_emb.weight'].shape)\"");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "1 28 blocks.0.attn.proj.bias (257, 16)\n");  // 12 per layer + 4
}

}  // namespace

namespace {

TEST_F(Checkpoint, ExportToPyTorchReferenceMatchesWeftEval) {
  if (sh("/usr/bin/python3 -c 'import h5py, torch'").code != 0) GTEST_SKIP() << "needs python3-h5py and python3-torch";
  std::string run = dir_ + "/export";
  ASSERT_EQ(sh(train(run, "--steps 3 --position alibi")).code, 0);
  Result r = sh("/usr/bin/python3 " + std::string(WEFT_SOURCE_DIR) + "/tools/export/check_export.py --checkpoint " + run +
                " --weft " + weft());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("rel diff"), std::string::npos) << r.out;
}

}  // namespace

// --init-from RUN: a trained transformer's parameters start an infinity-former (same names and shapes: the
// embeddings, every block's LN, attention and MLP; the learned positions differ in rows and are skipped, named);
// the memory's new parameters keep their initialisers (equal to a run without --init-from, same seed), the step
// starts at 1; a run without a checkpoint is an error naming the flag (exit 2).
TEST_F(Checkpoint, InitFromLoadsTheMatchingParametersOfAnotherRun) {
  const std::string t = dir_ + "/init_t", a = dir_ + "/init_a", b = dir_ + "/init_b";
  Result r = sh(train(t, "--steps 3 --lr 0.01 --warmup 0"));
  ASSERT_EQ(r.code, 0) << r.out;
  // lr 1e-30: one step moves no non-zero f32 value, so the saved parameters are the initial ones.
  const std::string inf = "--model infinite --ltm-basis 8 --ltm-samples 8 --ltm-segment 8 --steps 1 --lr 1e-30 --min-lr 0 "
                          "--warmup 0 --weight-decay 0 --seed 5";
  r = sh(train(a, inf + " --init-from " + t));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("init-from " + t + "/checkpoints/step_00000003: 27 parameters loaded, 14 new (initialised), "
                       "1 skipped (shape mismatch: pos_emb.weight: (16, 16) in the checkpoint vs (8, 16))"),
            std::string::npos)
      << r.out;
  ASSERT_EQ(sh(train(b, inf)).code, 0);
  auto params = [](const std::string& run) {
    std::ifstream latest(run + "/checkpoints/latest");
    std::string name;
    latest >> name;
    weft::ckpt::H5File f = weft::ckpt::H5File::open_read(run + "/checkpoints/" + name + "/rank_00000.h5");
    std::map<std::string, std::vector<float>> m;
    for (const std::string& d : f.dataset_names()) {
      if (d.rfind("params/", 0) != 0) continue;
      const weft::Shape s = f.shape_of(d);
      std::vector<float> v(static_cast<size_t>(s.numel()));
      f.read(d, weft::DType::f32, s, v.data());
      m[d.substr(7)] = v;
    }
    return m;
  };
  auto pt = params(t), pa = params(a), pb = params(b);
  int shared = 0, fresh = 0;
  for (const auto& [name, v] : pa) {
    if (pt.count(name) && pt[name].size() == v.size()) {
      ++shared;
      EXPECT_EQ(v, pt[name]) << name << " was not loaded";
      EXPECT_NE(v, pb[name]) << name << " kept its initialiser";
    } else {
      ++fresh;
      EXPECT_EQ(v, pb[name]) << name << " is not its initialiser";
    }
  }
  EXPECT_EQ(shared, 27);  // embeddings, 2 x 12 of the blocks, ln_f
  EXPECT_EQ(fresh, 15);  // 2 x 7 memory parameters and the learned positions
  std::ifstream metrics(a + "/metrics.jsonl");
  std::string first;
  std::getline(metrics, first);
  EXPECT_NE(first.find("\"step\": 1"), std::string::npos) << first;
  r = sh(train(dir_ + "/init_c", inf + " --init-from " + dir_ + "/no_such_run"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--init-from " + dir_ + "/no_such_run: the run has no checkpoint"), std::string::npos) << r.out;
}
