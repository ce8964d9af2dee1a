// weft analyze: analyses of trained checkpoints. `weft analyze <analysis> [flags]` (the table kAnalyses); norms
// and receptive-field live in launch/cmd_analyze_norms.cpp and launch/analyze_receptive.h (docs/analysis.md):
//   represent   representation accuracy (spec masked-mixer.md A.9, launch/analyze_represent.h): S validation
//               stories of the run's data folder (documents of the val split, split at end-of-text; S drawn
//               without replacement by Philox seed --seed), each truncated / right-padded with end-of-text to
//               the model's training length L; the input is recovered from the last block's output by --steps
//               of gradient descent in embedding space; the top-5 Hamming distance per checkpoint: one JSON
//               line on stdout {"step", "hamming", "samples", "positions", ...}, a table on stderr at the end.
// The model runs in fp32 (--device cpu|cuda|auto); pinv(E) is computed once per checkpoint in float64.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "data/split.h"
#include "data/tokenizer.h"
#include "launch/analyze_norms.h"
#include "launch/analyze_receptive.h"
#include "launch/analyze_represent.h"
#include "launch/commands.h"
#include "launch/inference_model.h"
#include "launch/metrics.h"
#include "launch/options.h"
#include "launch/tokenizer_check.h"
#include "launch/train_options.h"
#include "runtime/rng.h"

namespace weft::launch {

namespace {

// S stories of the val split: ids (S, T), truncated / right-padded with eot.
std::vector<int32_t> val_stories(const std::string& dir, int64_t vocab, int32_t eot, int64_t S, int64_t T,
                                 uint64_t seed, int64_t& drawn) {
  struct Doc {
    size_t shard;
    int64_t begin, length;
  };
  const auto shards = data::open_split(dir, "val", vocab);
  std::vector<Doc> docs;
  for (size_t s = 0; s < shards.size(); ++s) {
    int64_t begin = 0;
    for (int64_t i = 0; i <= shards[s]->size(); ++i) {
      if (i < shards[s]->size() && shards[s]->at(i) != eot) continue;
      if (i > begin) docs.push_back({s, begin, i - begin});
      begin = i + 1;
    }
  }
  if (docs.empty()) throw UsageError("the val split of " + dir + " holds no document");
  // The first S of a Philox-seeded Fisher-Yates shuffle of the documents.
  std::vector<size_t> order(docs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  drawn = std::min<int64_t>(S, static_cast<int64_t>(docs.size()));
  Rng rng(seed, 0);
  for (int64_t i = 0; i < drawn; ++i) {
    const size_t j = static_cast<size_t>(i) + static_cast<size_t>(rng.next_u64() % (docs.size() - static_cast<size_t>(i)));
    std::swap(order[static_cast<size_t>(i)], order[j]);
  }
  std::vector<int32_t> ids(static_cast<size_t>(drawn * T), eot);
  for (int64_t k = 0; k < drawn; ++k) {
    const Doc& d = docs[order[static_cast<size_t>(k)]];
    for (int64_t t = 0; t < std::min(T, d.length); ++t) ids[k * T + t] = shards[d.shard]->at(d.begin + t);
  }
  return ids;
}

int analyze_represent(const std::vector<std::string>& args) {
  OptionSet set("analyze represent");
  set.group("represent").add_options()
      ("checkpoint", po::value<std::string>()->required(), "checkpoint folder, or a run folder (its latest)")
      ("all-checkpoints", po::bool_switch(), "every checkpoint of the run folder, in step order (a curve)")
      ("samples", po::value<int64_t>()->default_value(10), "validation stories S")
      ("steps", po::value<int64_t>()->default_value(500), "gradient steps K in embedding space")
      ("seed", po::value<uint64_t>()->default_value(1), "story draw, a_0 and the reference noise")
      ("data", po::value<std::string>()->default_value(""), "data folder (default: the one trained on)")
      ("seq-len", po::value<int64_t>()->default_value(0), "story length T (0: the training length L)")
      ("batch-size", po::value<int64_t>()->default_value(10), "stories optimised together (same result for any)")
      ("out", po::value<std::string>()->default_value(""), "also append the JSON lines to this file")
      ("device", po::value<std::string>()->default_value("auto"), "cpu | cuda | auto (cuda when a GPU is visible)")
      ("threads", po::value<int>()->default_value(0), "CPU threads (0: all)");
  po::variables_map vm = set.parse(args);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  RepresentOptions opt;
  opt.steps = get<int64_t>(vm, "steps");
  opt.seed = get<uint64_t>(vm, "seed");
  const int64_t S = get<int64_t>(vm, "samples"), batch = get<int64_t>(vm, "batch-size");
  const int threads = get<int>(vm, "threads");
  const std::string device = get<std::string>(vm, "device");
  if (opt.steps < 0) throw UsageError("--steps must be >= 0");
  if (S <= 0) throw UsageError("--samples must be positive");
  if (batch <= 0) throw UsageError("--batch-size must be positive");
  if (threads < 0) throw UsageError("--threads must be >= 0");
  if (device != "cpu" && device != "cuda" && device != "auto")
    throw UsageError("--device must be cpu, cuda or auto, got '" + device + "'");
  const std::vector<std::string> paths =
      checkpoints_to_analyze(get<std::string>(vm, "checkpoint"), vm["all-checkpoints"].as<bool>());
  std::FILE* out = nullptr;
  if (!get<std::string>(vm, "out").empty()) {
    out = std::fopen(get<std::string>(vm, "out").c_str(), "a");
    if (!out) throw UsageError("--out: cannot open '" + get<std::string>(vm, "out") + "' for appending");
  }
  struct Row {
    int64_t step;
    RepresentResult r;
  };
  std::vector<Row> rows;
  std::vector<int32_t> ids;
  int64_t T = 0, drawn = 0;
  int32_t eot = -1;
  for (const std::string& path : paths) {
    InferenceModel m;
    load_inference_model(m, path, resolve_device(device), 0, threads);
    if (ids.empty()) {  // the stories, once: every checkpoint of a run has the same tokenizer and L
      std::string dir;  // --data, else the folder trained on; its tokenizer must be the checkpoint's
      auto tok = load_checked_tokenizer(m.meta, m.path, get<std::string>(vm, "data"), m.data_dir, dir, true);
      T = get<int64_t>(vm, "seq-len") > 0 ? get<int64_t>(vm, "seq-len") : m.seq_len;
      if (T > m.model->max_seq_len())
        throw UsageError("--seq-len " + std::to_string(T) + ": model '" + m.model->name() +
                         "' supports sequences of at most " + std::to_string(m.model->max_seq_len()) + " tokens");
      eot = tok->eot();
      ids = val_stories(dir, m.model->vocab_size(), eot, S, T, opt.seed, drawn);
      if (drawn < S)
        std::fprintf(stderr, "note: the val split of %s holds %lld stories; using all of them\n", dir.c_str(),
                     static_cast<long long>(drawn));
    }
    const EmbeddingInverse inv = embedding_inverse(*m.model, m.params());
    RepresentResult total;
    for (int64_t first = 0; first < drawn; first += batch) {
      const int64_t B = std::min(batch, drawn - first);
      const std::vector<int32_t> part(ids.begin() + first * T, ids.begin() + (first + B) * T);
      total += represent_batch(*m.model, m.params(), m.ex(), inv, part, B, T, eot, first, opt);
    }
    const int64_t step = checkpoint_step_of(m.path);
    const std::string line = JsonLine()
                                 .integer("step", step)
                                 .num("hamming", total.count.rate())
                                 .integer("samples", total.samples)
                                 .integer("positions", total.count.positions)
                                 .integer("misses", total.count.misses)
                                 .num("l1_start", total.l1_start / static_cast<double>(total.elements))
                                 .num("l1_end", total.l1_end / static_cast<double>(total.elements))
                                 .integer("seq_len", T)
                                 .integer("steps", opt.steps)
                                 .str("model", m.model->name())
                                 .str("checkpoint", m.path)
                                 .text();
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    if (out) {
      std::fprintf(out, "%s\n", line.c_str());
      std::fflush(out);
    }
    rows.push_back({step, total});
  }
  if (out) std::fclose(out);
  std::fprintf(stderr, "\n%10s %9s %9s %7s %12s %12s\n", "step", "hamming", "positions", "misses", "l1/elem a_0",
               "l1/elem a_K");
  for (const Row& r : rows)
    std::fprintf(stderr, "%10lld %9.4f %9lld %7lld %12.5f %12.5f\n", static_cast<long long>(r.step), r.r.count.rate(),
                 static_cast<long long>(r.r.count.positions), static_cast<long long>(r.r.count.misses),
                 r.r.l1_start / static_cast<double>(r.r.elements), r.r.l1_end / static_cast<double>(r.r.elements));
  return 0;
}

struct Analysis {
  const char* name;
  int (*run)(const std::vector<std::string>& args);
  const char* summary;
};

const Analysis kAnalyses[] = {
    {"represent", analyze_represent,
     "representation accuracy (spec A.9): recover the input from the last block's output, top-5 Hamming"},
    {"norms", analyze_norms, "token-representation norms (token-norms.md D.3) on a fixed held-out batch, into HDF5"},
    {"receptive-field", analyze_receptive_field,
     "empirical receptive field (spec C.4): where the last position's loss gradient reaches, C(k) per length"},
};

int print_analyses(std::FILE* f) {
  std::fprintf(f, "usage: weft analyze <analysis> [flags]   (weft analyze <analysis> --help for its flags)\n\nanalyses:\n");
  for (const Analysis& a : kAnalyses) std::fprintf(f, "  %-16s %s\n", a.name, a.summary);
  return 0;
}

}  // namespace

int cmd_analyze(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") return print_analyses(stdout);
  for (const Analysis& a : kAnalyses)
    if (args[0] == a.name) return a.run(std::vector<std::string>(args.begin() + 1, args.end()));
  std::string names;
  for (const Analysis& a : kAnalyses) names += std::string(names.empty() ? "" : ", ") + a.name;
  throw UsageError("unknown analysis '" + args[0] + "' (known: " + names + ")");
}

}  // namespace weft::launch
