// `weft eval --task pairs|choice FILE`: reads the items (bad input is a UsageError naming the file, line and
// field), tokenises them into scored sequences, scores them (sequence_log_probs, data-parallel under mpirun)
// and prints one JSON line per phenomenon and an overall one on stdout, a table on stderr (rank 0 only).
#include "launch/eval_tasks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "data/jsonl.h"
#include "data/loader.h"
#include "data/tokenizer.h"
#include "launch/evaluation.h"  // batch_rows_on
#include "launch/inference_model.h"
#include "launch/metrics.h"
#include "launch/session.h"
#include "launch/train_options.h"
#include "launch/jsonl_lines.h"
#include "launch/tokenizer_check.h"
#include "runtime/graph.h"

namespace weft::launch {

namespace {

// One line of a task file: the texts to score (pairs: good, bad; choice: the choices) after one context.
struct Item {
  int64_t line = 0;
  std::string phenomenon, context;
  std::vector<std::string> texts;
  std::vector<const char*> fields;  // the field each text came from, for errors
  int64_t answer = 0;               // index into texts of the right one (pairs: 0, good)
};

std::vector<Item> read_items(const std::string& path, bool pairs) {
  std::vector<Item> items;
  for_each_jsonl_line(path, "--task", [&](const std::string& line, const std::string& where, int64_t lineno) {
    auto optional = [&](const char* key, std::string& out) {
      const std::string err = data::json_string_field(line, key, out);
      if (!err.empty() && err.rfind("missing field", 0) != 0) throw UsageError(where + err);
    };
    Item it;
    it.line = lineno;
    if (pairs) {
      it.texts.resize(2);
      it.fields = {"good", "bad"};
      for (size_t k = 0; k < 2; ++k) {
        const std::string err = data::json_string_field(line, it.fields[k], it.texts[k]);
        if (!err.empty()) throw UsageError(where + err);
      }
      optional("context", it.context);
    } else {
      std::string err = data::json_string_field(line, "context", it.context);
      if (!err.empty()) throw UsageError(where + err);
      err = data::json_string_array_field(line, "choices", it.texts);
      if (!err.empty()) throw UsageError(where + err);
      if (it.texts.size() < 2)
        throw UsageError(where + "field 'choices' holds " + std::to_string(it.texts.size()) + " (needs 2 or more)");
      it.fields.assign(it.texts.size(), "choices");
      double answer = 0;
      err = data::json_number_field(line, "answer", answer);
      if (!err.empty()) throw UsageError(where + err);
      if (!(answer >= 0 && answer < static_cast<double>(it.texts.size())) || answer != std::floor(answer))
        throw UsageError(where + "field 'answer' is " + std::to_string(answer) + ", not an index of the " +
                         std::to_string(it.texts.size()) + " choices");
      it.answer = static_cast<int64_t>(answer);
    }
    optional("phenomenon", it.phenomenon);
    for (size_t k = 0; k < it.texts.size(); ++k)
      if (it.texts[k].empty()) throw UsageError(where + "field '" + it.fields[k] + "' is empty");
    items.push_back(std::move(it));
  });
  if (items.empty()) throw UsageError("--task: '" + path + "' holds no items (empty file)");
  return items;
}

// Per-group tallies of right answers.
struct Tally {
  int64_t items = 0, correct = 0, correct_norm = 0, ties = 0;
};

void print_report(const std::string& task, const std::string& path, const std::vector<std::string>& order,
                  const std::map<std::string, Tally>& groups, const Tally& all) {
  const bool pairs = task == "pairs";
  auto line = [&](const std::string* phenomenon, const Tally& t) {
    JsonLine j;
    j.str("task", task);
    if (phenomenon) j.str("phenomenon", *phenomenon);
    const double n = static_cast<double>(t.items);
    j.num("accuracy", static_cast<double>(t.correct) / n);
    if (!pairs) j.num("accuracy_norm", static_cast<double>(t.correct_norm) / n);
    j.integer(pairs ? "pairs" : "items", t.items).integer("correct", t.correct).integer("ties", t.ties);
    if (!phenomenon) j.str("file", path);
    std::printf("%s\n", j.text().c_str());
  };
  std::fprintf(stderr, "%-28s %8s %9s%s\n", "phenomenon", pairs ? "pairs" : "items", "accuracy",
               pairs ? "" : "  acc_norm");
  auto row = [&](const std::string& name, const Tally& t) {
    const double n = static_cast<double>(t.items);
    std::fprintf(stderr, "%-28s %8lld %9.4f", name.c_str(), (long long)t.items, static_cast<double>(t.correct) / n);
    if (!pairs) std::fprintf(stderr, "  %8.4f", static_cast<double>(t.correct_norm) / n);
    std::fprintf(stderr, "\n");
  };
  for (const std::string& p : order) {
    line(&p, groups.at(p));
    row(p, groups.at(p));
  }
  line(nullptr, all);
  row("all", all);
}

}  // namespace

std::vector<double> sequence_log_probs(models::Model& model, ParamStore& params, Exec& ex, Arena& arena,
                                       const std::vector<ScoredSequence>& sequences, int64_t window,
                                       int64_t batch_size, int32_t pad, par::Communicator& comm) {
  WEFT_CHECK(batch_size > 0, "--batch-size must be positive, got ", batch_size);
  WEFT_CHECK(window > 0 && window <= model.max_seq_len(), "[eval] window ", window, " outside the model's ",
             model.max_seq_len(), " positions");
  const int64_t S = static_cast<int64_t>(sequences.size()), B = batch_size;
  int64_t T = 1;  // one padded length for every batch: a row's logits never depend on the batching
  for (const ScoredSequence& s : sequences) {
    const int64_t n = static_cast<int64_t>(s.tokens.size()) - 1;
    WEFT_CHECK(s.scored >= 1 && s.scored <= n && s.scored <= window, "[eval] a sequence of ", n + 1,
               " tokens scores ", s.scored, " (window ", window, ")");
    T = std::max(T, std::min(n, window));
  }
  OwnedTensor in(DType::i32, {B, T}), tg(DType::i32, {B, T});
  OwnedTensor din, dtg;
  if (ex.device != Device::cpu) {
    din = OwnedTensor(DType::i32, {B, T}, ex.device);
    dtg = OwnedTensor(DType::i32, {B, T}, ex.device);
  }
  std::vector<float> losses(static_cast<size_t>(B * T));
  std::vector<double> wide(static_cast<size_t>(B * T)), out(static_cast<size_t>(S), 0.0);
  Graph g(ex, arena);
  g.grad_enabled = false;
  for (int64_t first = comm.rank() * B; first < S; first += B * comm.size()) {
    const int64_t n = std::min(B, S - first), N = n * T;
    int32_t* ids = in.ptr<int32_t>();
    int32_t* targets = tg.ptr<int32_t>();
    std::fill(ids, ids + N, pad);
    std::fill(targets, targets + N, data::kIgnoreIndex);
    for (int64_t b = 0; b < n; ++b) {
      const ScoredSequence& s = sequences[static_cast<size_t>(first + b)];
      const int64_t len = static_cast<int64_t>(s.tokens.size()) - 1, used = std::min(len, window);
      const int32_t* from = s.tokens.data() + (len - used);  // the last `used` inputs: only context is cut
      std::copy(from, from + used, ids + b * T);
      std::copy(from + used - s.scored + 1, from + used + 1, targets + b * T + used - s.scored);
    }
    const auto [x, y] = batch_rows_on(ex.device, in, tg, din, dtg, n);  // (n, T) each
    Var logits = model.logits(g, params, x);  // (n, T, V)
    const int64_t V = logits->value.shape[logits->value.shape.rank - 1];
    Tensor per_token = ops::token_losses(g, ops::reshape(g, logits, {N, V}), g.constant(y.reshape({N})));  // (N)
    if (per_token.dtype == DType::f64) {
      device_copy(Device::cpu, wide.data(), ex.device, per_token.data, static_cast<size_t>(N) * sizeof(double));
    } else {
      device_copy(Device::cpu, losses.data(), ex.device, per_token.data, static_cast<size_t>(N) * sizeof(float));
      std::copy(losses.begin(), losses.begin() + N, wide.begin());
    }
    for (int64_t b = 0; b < n; ++b) {
      double sum = 0.0;  // token order
      for (int64_t t = 0; t < T; ++t)
        if (targets[b * T + t] != data::kIgnoreIndex) sum += wide[static_cast<size_t>(b * T + t)];
      out[static_cast<size_t>(first + b)] = -sum;
    }
    g.clear();
  }
  // Each value comes from one rank, the others add zeros: exact.
  if (comm.size() > 1) comm.all_reduce(out.data(), S, DType::f64, par::ReduceOp::sum);
  return out;
}

int cmd_eval_task(const po::variables_map& vm) {
  const std::vector<std::string> task_args = vm["task"].as<std::vector<std::string>>();
  if (task_args.size() != 2 || (task_args[0] != "pairs" && task_args[0] != "choice"))
    throw UsageError("--task takes a kind and a file: --task pairs FILE.jsonl | --task choice FILE.jsonl");
  for (const char* flag : {"split", "pack", "batches"})
    if (!vm[flag].defaulted()) throw UsageError(std::string("--") + flag + " does not apply to --task");
  const std::string task = task_args[0], path = task_args[1];
  const int64_t B = get<int64_t>(vm, "batch-size");
  if (B <= 0) throw UsageError("--batch-size must be positive");
  std::string device_flag, dtype_flag;
  int threads = 0;
  device_options(vm, device_flag, dtype_flag, threads);
  const KernelBackends kernels = kernel_backend_options(vm);
  const std::vector<Item> items = read_items(path, task == "pairs");  // bad input fails before any model loads

  Session session = start_session();
  return run_ranked(session, [&]() -> int {
    par::Communicator& comm = *session.comm;
    session.watchdog->set_timeout(collective_timeout_option(vm));
    threads = resolve_threads(session, threads);
    const Device dev = resolve_device(device_flag);
    InferenceModel m;
    load_inference_model(m, get<std::string>(vm, "checkpoint"), dev, std::max(session.launch.gpu, 0), threads,
                         parse_compute_dtype(dtype_flag, dev));
    kernels.apply(m.ex());
    apply_cpu_dtype(m.ex(), dtype_flag);
    std::string data_dir;  // --data, else the folder trained on; its tokenizer must be the checkpoint's
    auto tok = load_checked_tokenizer(m.meta, m.path, get<std::string>(vm, "data"), m.data_dir, data_dir, comm.rank() == 0);
    if (tok->vocab_size() > m.model->vocab_size())
      throw UsageError("the tokenizer of " + data_dir + " has " + std::to_string(tok->vocab_size()) +
                       " ids but model '" + m.model->name() + "' only " + std::to_string(m.model->vocab_size()) +
                       " (--data names another tokenizer?)");
    // The window: --seq-len, else the training length, never beyond what the model supports.
    const int64_t asked = get<int64_t>(vm, "seq-len");
    const int64_t window = asked > 0 ? asked : std::min(m.seq_len, m.model->max_seq_len());
    if (window > m.model->max_seq_len())
      throw UsageError("--seq-len " + std::to_string(window) + ": model '" + m.model->name() +
                       "' supports sequences of at most " + std::to_string(m.model->max_seq_len()) + " tokens");

    std::vector<ScoredSequence> seqs;
    for (const Item& it : items) {
      std::vector<int32_t> prefix = tok->encode(it.context);
      prefix.insert(prefix.begin(), tok->eot());
      for (size_t k = 0; k < it.texts.size(); ++k) {
        ScoredSequence s;
        s.tokens = prefix;
        const std::vector<int32_t> cont = tok->encode(it.texts[k]);
        s.tokens.insert(s.tokens.end(), cont.begin(), cont.end());
        s.scored = static_cast<int64_t>(cont.size());
        if (s.scored > window)
          throw UsageError(path + ":" + std::to_string(it.line) + ": field '" + it.fields[k] + "' is " +
                           std::to_string(s.scored) + " tokens, longer than the model's window of " +
                           std::to_string(window) + " (--seq-len)");
        seqs.push_back(std::move(s));
      }
    }
    Arena arena(m.ex().device);
    const std::vector<double> lp =
        sequence_log_probs(*m.model, m.params(), m.ex(), arena, seqs, window, B, tok->eot(), comm);
    if (comm.rank() != 0) return 0;

    std::vector<std::string> order;
    std::map<std::string, Tally> groups;
    Tally all;
    size_t next = 0;
    for (const Item& it : items) {
      const size_t n = it.texts.size(), a = static_cast<size_t>(it.answer);
      bool right = true, right_norm = true, tie = false;
      const double norm_a = lp[next + a] / static_cast<double>(it.texts[a].size());
      for (size_t k = 0; k < n; ++k) {
        if (k == a) continue;
        right = right && lp[next + a] > lp[next + k];  // ties count as wrong
        right_norm = right_norm && norm_a > lp[next + k] / static_cast<double>(it.texts[k].size());
        tie = tie || lp[next + a] == lp[next + k];
      }
      next += n;
      for (Tally* t : {&all, it.phenomenon.empty() ? nullptr : &groups[it.phenomenon]}) {
        if (!t) continue;
        ++t->items;
        t->correct += right;
        t->correct_norm += right_norm;
        t->ties += tie;
      }
      if (!it.phenomenon.empty() && std::find(order.begin(), order.end(), it.phenomenon) == order.end())
        order.push_back(it.phenomenon);
    }
    print_report(task, path, order, groups, all);
    return 0;
  });
}

}  // namespace weft::launch
