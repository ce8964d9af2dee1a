// weft eval --task pairs|choice through the binary, on a tiny transformer trained for seconds on the built-in
// stories (SentencePiece, so words are tokens) and the zero-shot sets of `weft prepare --builtin zero-shot`:
// the scores equal log-probabilities computed here from the model's logits (a long context cut to the
// window included), swapping good and bad complements the accuracy, the model beats chance on subject-verb
// agreement, results are identical for any --batch-size and on 1 or 2 ranks, and bad input exits 2 naming
// the file, line and field. The model is trained once per build, not once per case (SharedRun below).
//
// What the accuracy test asserts: 300 steps teach word bigrams ("They were", "she was"), enough for
// subject-verb agreement (measured 0.74); pronoun gender (name -> she), a/an (the next word's first letter)
// and plot consistency stay at chance at this size (docs/zero-shot.md has the measurements).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "data/jsonl.h"
#include "data/tokenizer.h"
#include "launch/eval_tasks.h"
#include "launch/inference_model.h"
#include "parallel/comm.h"
#include "runtime/graph.h"
#include "tests/harness/process.h"

namespace {

namespace fs = std::filesystem;
using Result = weft::test::ProcessResult;
using weft::test::json_field;
using weft::test::json_lines;

Result run(const std::string& args) { return weft::test::run_shell(std::string(WEFT_BINARY) + " " + args); }

std::string line_of(const std::string& out, const std::string& phenomenon) {
  for (const std::string& l : json_lines(out))
    if (json_field(l, "phenomenon") == "\"" + phenomenon + "\"") return l;
  return "";
}

void write(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream f(path);
  for (const std::string& l : lines) f << l << "\n";
}

std::vector<std::string> read_lines(const std::string& path, size_t max) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; lines.size() < max && std::getline(in, l);) lines.push_back(l);
  return lines;
}

// The trained model, its data and the zero-shot sets in one folder of the build tree, shared by every process:
// ctest runs each case below as its own process (two at once under -j2), and preparing and training are the
// expensive part. The first process to take the lock builds the folder and stamps it last; the others wait for
// the lock and reuse the folder while the stamp matches (the setup commands and the weft binary's size and
// modification time: a rebuilt weft or changed commands build it again). Cases only read it.
class SharedRun {
 public:
  explicit SharedRun(std::string dir) : dir_(std::move(dir)) {}
  // Builds the folder unless it holds a finished run of this build; returns why it failed ("" when ready).
  std::string ensure() const {
    fs::create_directories(fs::path(dir_).parent_path());
    const int fd = ::open((dir_ + ".lock").c_str(), O_CREAT | O_RDWR, 0644);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) return "cannot lock " + dir_ + ".lock";
    const std::string error = build_unless_stamped();
    ::flock(fd, LOCK_UN);
    ::close(fd);
    return error;
  }

 private:
  std::vector<std::string> commands() const {
    return {
        "prepare --builtin stories --tokens 300000 --tokenizer sentencepiece --vocab-size 1000 --out " + dir_ + "/data",
        "train --model transformer --d-model 64 --n-layers 2 --n-heads 2 --data " + dir_ +
            "/data --seq-len 64 --batch-size 16 --steps 300 --lr 3e-3 --warmup 20 --eval-every 0 "
            "--log-every 100 --threads 1 --out " + dir_ + "/lm",
        "prepare --builtin zero-shot --examples 200 --out " + dir_ + "/zs"};
  }
  std::string stamp() const {
    struct stat st {};
    ::stat(WEFT_BINARY, &st);
    std::string s = "weft " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
                    std::to_string(st.st_mtim.tv_nsec) + "\n";
    for (const std::string& c : commands()) s += c + "\n";
    return s;
  }
  std::string build_unless_stamped() const {
    const std::string want = stamp();
    {
      std::ifstream in(dir_ + "/stamp");
      const std::string have((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (have == want) return "";
    }
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const std::string& c : commands()) {
      const Result r = run(c);
      if (r.code != 0) return "weft " + c + " exited " + std::to_string(r.code) + ":\n" + r.out;
    }
    std::ofstream(dir_ + "/stamp") << want;  // last: a folder without it is rebuilt
    return "";
  }
  std::string dir_;
};

class EvalTasks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string error = SharedRun(WEFT_EVAL_TASKS_RUN).ensure();
    ASSERT_EQ(error, "");
    dir_ = WEFT_EVAL_TASKS_RUN;
    work_ = (fs::temp_directory_path() / ("weft_eval_tasks_" + std::to_string(::getpid()))).string();
    fs::create_directories(work_);
  }
  static void TearDownTestSuite() { fs::remove_all(work_); }
  static Result eval(const std::string& task, const std::string& file, const std::string& extra = "") {
    return run("eval --checkpoint " + dir_ + "/lm --task " + task + " " + file + " --threads 1 " + extra);
  }
  static std::string dir_;   // the shared run (data, lm, zs): read only
  static std::string work_;  // this process's files
};
std::string EvalTasks::dir_, EvalTasks::work_;

// log p of the scored tokens, from the model's logits over the last `window` inputs, in double.
double direct_log_prob(weft::launch::InferenceModel& m, const std::vector<int32_t>& tokens, int64_t scored,
                       int64_t window) {
  using namespace weft;
  const int64_t len = static_cast<int64_t>(tokens.size()) - 1, used = std::min(len, window);
  OwnedTensor ids(DType::i32, {1, used});
  std::copy(tokens.begin() + (len - used), tokens.end() - 1, ids.ptr<int32_t>());
  Arena arena(m.ex().device);
  Graph g(m.ex(), arena);
  g.grad_enabled = false;
  Var logits = m.model->logits(g, m.params(), ids.tensor());  // (1, used, V)
  const int64_t V = logits->value.shape[2];
  const float* z = static_cast<const float*>(logits->value.data);
  double lp = 0;
  for (int64_t t = used - scored; t < used; ++t) {
    double mx = -1e300, sum = 0;
    for (int64_t v = 0; v < V; ++v) mx = std::max(mx, static_cast<double>(z[t * V + v]));
    for (int64_t v = 0; v < V; ++v) sum += std::exp(z[t * V + v] - mx);
    lp += z[t * V + tokens[static_cast<size_t>(len - used + t + 1)]] - mx - std::log(sum);
  }
  return lp;
}

TEST_F(EvalTasks, ScoresAreTheLogProbabilitiesOfTheModel) {
  using namespace weft;
  launch::InferenceModel m;
  launch::load_inference_model(m, dir_ + "/lm", Device::cpu, 0, 1);
  auto tok = data::load_tokenizer(dir_ + "/data");
  const int64_t window = 64;
  // Pairs: end-of-text + sentence. Plot pairs and choice items: end-of-text + a context longer than the window.
  std::vector<launch::ScoredSequence> seqs;
  std::vector<std::string> texts;
  for (const std::string& line : read_lines(dir_ + "/zs/minimal_pairs.jsonl", 100000)) {
    std::string context, good, phenomenon;
    ASSERT_EQ(data::json_string_field(line, "good", good), "");
    ASSERT_EQ(data::json_string_field(line, "phenomenon", phenomenon), "");
    data::json_string_field(line, "context", context);
    if (seqs.size() >= 6 && phenomenon != "plot_consistency") continue;
    std::vector<int32_t> t = tok->encode(context), cont = tok->encode(good);
    t.insert(t.begin(), tok->eot());
    t.insert(t.end(), cont.begin(), cont.end());
    seqs.push_back({t, static_cast<int64_t>(cont.size())});
    if (seqs.size() == 9) break;
  }
  ASSERT_EQ(seqs.size(), 9u);
  ASSERT_GT(seqs.back().tokens.size(), 2u * window);  // the context is cut
  Arena arena(Device::cpu);
  auto local = par::make_local_communicator();
  const std::vector<double> lp =
      launch::sequence_log_probs(*m.model, m.params(), m.ex(), arena, seqs, window, 4, tok->eot(), *local);
  for (size_t i = 0; i < seqs.size(); ++i) {
    const double want = direct_log_prob(m, seqs[i].tokens, seqs[i].scored, window);
    EXPECT_NEAR(lp[i], want, 1e-4 * std::max(1.0, std::fabs(want))) << "sequence " << i;
    EXPECT_LT(lp[i], 0.0);
  }
  // The CLI's decisions are these numbers' comparisons: 40 pairs scored here and by weft eval.
  std::vector<std::string> lines = read_lines(dir_ + "/zs/minimal_pairs.jsonl", 40), kept;
  int64_t right = 0;
  for (const std::string& line : lines) {
    std::string good, bad;
    data::json_string_field(line, "good", good);
    data::json_string_field(line, "bad", bad);
    double s[2];
    for (int k = 0; k < 2; ++k) {
      std::vector<int32_t> t = tok->encode(k == 0 ? good : bad);
      const int64_t n = static_cast<int64_t>(t.size());
      t.insert(t.begin(), tok->eot());
      s[k] = direct_log_prob(m, t, n, window);
    }
    if (std::fabs(s[0] - s[1]) < 1e-3) continue;  // too close to call across float orders
    kept.push_back(line);
    right += s[0] > s[1];
  }
  ASSERT_GT(kept.size(), 30u);
  write(work_ + "/direct.jsonl", kept);
  Result r = eval("pairs", work_ + "/direct.jsonl");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string all = json_lines(r.out).back();
  EXPECT_EQ(json_field(all, "correct"), std::to_string(right)) << r.out;
  EXPECT_EQ(json_field(all, "pairs"), std::to_string(kept.size())) << r.out;
}

TEST_F(EvalTasks, SwappingGoodAndBadComplementsTheAccuracy) {
  std::vector<std::string> lines = read_lines(dir_ + "/zs/minimal_pairs.jsonl", 100000), swapped;
  for (const std::string& line : lines) {
    std::string good, bad;
    weft::data::json_string_field(line, "good", good);
    weft::data::json_string_field(line, "bad", bad);
    std::string s = line;
    const size_t g = s.find("\"good\": "), b = s.find("\"bad\": ");
    s = s.substr(0, g) + "\"good\": \"" + weft::data::json_escape_string(bad) + "\", \"bad\": \"" +
        weft::data::json_escape_string(good) + "\"}";
    ASSERT_LT(g, b);
    swapped.push_back(s);
  }
  write(work_ + "/swapped.jsonl", swapped);
  Result a = eval("pairs", dir_ + "/zs/minimal_pairs.jsonl"), b = eval("pairs", work_ + "/swapped.jsonl");
  ASSERT_EQ(a.code, 0) << a.out;
  ASSERT_EQ(b.code, 0) << b.out;
  const std::vector<std::string> la = json_lines(a.out), lb = json_lines(b.out);
  ASSERT_EQ(la.size(), 5u) << a.out;  // four phenomena and the overall line
  ASSERT_EQ(lb.size(), la.size());
  for (size_t i = 0; i < la.size(); ++i) {
    const int64_t n = std::stoll(json_field(la[i], "pairs")), ties = std::stoll(json_field(la[i], "ties"));
    EXPECT_EQ(std::stoll(json_field(la[i], "correct")) + std::stoll(json_field(lb[i], "correct")) + ties, n) << la[i];
  }
}

TEST_F(EvalTasks, TinyModelBeatsChanceOnSubjectVerbAgreement) {
  Result r = eval("pairs", dir_ + "/zs/minimal_pairs.jsonl");
  ASSERT_EQ(r.code, 0) << r.out;
  std::printf("%s", r.out.c_str());  // the measured accuracies, for the log
  const std::string sv = line_of(r.out, "agreement_subject_verb");
  ASSERT_FALSE(sv.empty()) << r.out;
  EXPECT_EQ(json_field(sv, "pairs"), "200");
  EXPECT_GT(std::stod(json_field(sv, "accuracy")), 0.6) << sv;
  r = eval("choice", dir_ + "/zs/choice.jsonl");
  ASSERT_EQ(r.code, 0) << r.out;
  std::printf("%s", r.out.c_str());
  const std::string all = json_lines(r.out).back();
  EXPECT_EQ(json_field(all, "items"), "200");
  for (const char* k : {"accuracy", "accuracy_norm"}) {
    const double a = std::stod(json_field(all, k));
    EXPECT_GE(a, 0.0);
    EXPECT_LE(a, 1.0);
  }
}

TEST_F(EvalTasks, SameResultsForAnyBatchSizeAndRankCount) {
  write(work_ + "/few_pairs.jsonl", read_lines(dir_ + "/zs/minimal_pairs.jsonl", 1000));  // every phenomenon
  write(work_ + "/few_choice.jsonl", read_lines(dir_ + "/zs/choice.jsonl", 40));
  const bool mpi = weft::test::run_shell("command -v mpirun").code == 0;
  for (const std::string task : {"pairs", "choice"}) {
    const std::string file = work_ + "/few_" + task + ".jsonl";
    Result one = eval(task, file, "--batch-size 1"), seven = eval(task, file, "--batch-size 7");
    ASSERT_EQ(one.code, 0) << one.out;
    ASSERT_EQ(seven.code, 0) << seven.out;
    EXPECT_EQ(json_lines(one.out), json_lines(seven.out));
    if (!mpi) continue;
    // stderr (the table) dropped inside the subshell: Open MPI forwards stdout and stderr in chunks that can split
    // a JSON line (run_shell appends 2>&1 to the whole command).
    Result two = weft::test::run_shell("(" + weft::test::mpirun(2) + WEFT_BINARY + " eval --checkpoint " + dir_ +
                                       "/lm --task " + task + " " + file + " --threads 1 --batch-size 3 2>/dev/null)");
    ASSERT_EQ(two.code, 0) << two.out;
    EXPECT_EQ(json_lines(one.out), json_lines(two.out)) << two.out;  // rank 0 alone prints
  }
  if (!mpi) GTEST_SKIP() << "mpirun not found: batch sizes checked, 2 ranks not";
}

TEST_F(EvalTasks, BadInputExitsTwoNamingFileLineAndField) {
  const std::string f = work_ + "/bad.jsonl";
  struct Case {
    std::string task;
    std::vector<std::string> lines;
    std::vector<std::string> fragments;
  };
  const std::string long_text(3000, 'a');
  const std::vector<Case> cases = {
      {"pairs", {R"({"good": "A dog ran.", "bad": "A dog run."})", R"({"bad": "x"})"}, {"bad.jsonl:2", "'good'"}},
      {"pairs", {R"({"good": "A dog ran.", "bad": )"}, {"bad.jsonl:1", "column"}},
      {"pairs", {R"({"good": "A dog ran.", "bad": 3})"}, {"bad.jsonl:1", "'bad'"}},
      {"pairs", {R"({"good": "", "bad": "x"})"}, {"bad.jsonl:1", "'good'", "empty"}},
      {"pairs", {}, {"bad.jsonl", "empty file"}},
      {"pairs", {"", R"({"good": ")" + long_text + R"(", "bad": "x"})"}, {"bad.jsonl:2", "'good'", "window"}},
      {"choice", {R"({"context": "c", "choices": ["a", "b"], "answer": 2})"}, {"bad.jsonl:1", "'answer'"}},
      {"choice", {R"({"context": "c", "choices": ["a", "b"], "answer": 0.5})"}, {"bad.jsonl:1", "'answer'"}},
      {"choice", {R"({"context": "c", "choices": "a", "answer": 0})"}, {"bad.jsonl:1", "'choices'"}},
      {"choice", {R"({"context": "c", "choices": ["a"], "answer": 0})"}, {"bad.jsonl:1", "'choices'"}},
      {"choice", {R"({"choices": ["a", "b"], "answer": 0})"}, {"bad.jsonl:1", "'context'"}},
  };
  for (const Case& c : cases) {
    write(f, c.lines);
    Result r = eval(c.task, f);
    EXPECT_EQ(r.code, 2) << r.out;
    for (const std::string& frag : c.fragments) EXPECT_NE(r.out.find(frag), std::string::npos) << frag << ": " << r.out;
  }
  Result r = run("eval --checkpoint " + dir_ + "/lm --task pairs");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("--task"), std::string::npos) << r.out;
  r = eval("pairs", work_ + "/no_such_file.jsonl");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("no_such_file.jsonl"), std::string::npos) << r.out;
}

}  // namespace
