// weft embed: a frozen generative model embeds the query and the document of every pair of a JSONL file
// (spec masked-mixer.md A.10 items 2-3), for `weft retrieval`. Each text is tokenized with the run's
// tokenizer, truncated / right-padded with end-of-text to the model's training length L (no BOS, A.5), run
// through the model in fp32 with a tap, and the tap's value at one position is the embedding:
//   a family with a "final" tap (the transformer: after the final norm)   final at -1
//   any other (the masked mixer: its last block's output)                 blocks.<N-1>.out at -2
// (--tap, --index override). Under mpirun the pairs are split into equal contiguous shares, one per rank,
// gathered to rank 0, which writes the file (launch/embeddings_file.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/jsonl.h"
#include "data/prepare.h"
#include "data/tokenizer.h"
#include "launch/commands.h"
#include "launch/embeddings_file.h"
#include "launch/inference_model.h"
#include "launch/session.h"
#include "launch/train_options.h"
#include "launch/jsonl_lines.h"
#include "launch/tokenizer_check.h"

namespace weft::launch {

namespace {

struct PairText {
  std::string query, document;
  int32_t split = 0;  // 0 train, 1 val
};

// One pair per non-blank line. A line without "split" is train unless --val-fraction routes it to val
// (the rule of `weft prepare`: pair i validates when floor((i + 1) f) > floor(i f)).
std::vector<PairText> read_pairs(const std::string& path, const std::string& query_field,
                                 const std::string& document_field, double val_fraction) {
  std::vector<PairText> pairs;
  for_each_jsonl_line(path, "--pairs", [&](const std::string& line, const std::string& where, int64_t) {
    PairText p;
    for (const auto& [field, flag, out] : {std::tuple{query_field, "--query-field", &p.query},
                                           std::tuple{document_field, "--document-field", &p.document}}) {
      const std::string err = data::json_string_field(line, field, *out);
      if (!err.empty()) throw UsageError(where + err + " (" + flag + " " + field + ")");
    }
    std::string split;
    const std::string err = data::json_string_field(line, "split", split);
    if (err.rfind("missing field", 0) == 0) {
      p.split = data::is_validation_document(static_cast<int64_t>(pairs.size()), val_fraction) ? 1 : 0;
    } else if (!err.empty()) {
      throw UsageError(where + err);
    } else if (split == "train") {
      p.split = 0;
    } else if (split == "val" || split == "validation" || split == "test") {
      p.split = 1;
    } else {
      throw UsageError(where + "split '" + split + "' is neither train nor val");
    }
    pairs.push_back(std::move(p));
  });
  if (pairs.empty()) throw UsageError("--pairs: '" + path + "' holds no pairs (empty file)");
  return pairs;
}

// The names of every tap the model offers, from one forward pass over a single sequence of end-of-text.
std::vector<std::string> offered_taps(InferenceModel& m, int32_t eot) {
  OwnedTensor ids(DType::i32, {1, m.seq_len}, m.ex().device);
  std::vector<int32_t> host(static_cast<size_t>(m.seq_len), eot);
  device_copy(m.ex().device, ids.tensor().data, Device::cpu, host.data(), host.size() * sizeof(int32_t));
  Arena arena(m.ex().device);
  Graph g(m.ex(), arena);
  g.grad_enabled = false;
  models::Taps taps({"*"});
  m.model->set_taps(&taps);
  m.model->logits(g, m.params(), ids.tensor());
  m.model->set_taps(nullptr);
  std::vector<std::string> names;
  for (const auto& [name, v] : taps.captured()) names.push_back(name);
  return names;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int cmd_embed(const std::vector<std::string>& args) {
  OptionSet set("embed");
  set.group("embed").add_options()
      ("checkpoint", po::value<std::string>()->required(), "generative model: checkpoint folder, or a run folder (its latest)")
      ("pairs", po::value<std::string>()->required(),
       "JSONL, one pair per line (the built-in corpus writes DATA/pairs.jsonl)")
      ("out", po::value<std::string>()->required(), "embeddings file to write (HDF5)")
      ("data", po::value<std::string>()->default_value(""), "data folder whose tokenizer to use (default: trained on)")
      ("query-field", po::value<std::string>()->default_value("summary"), "JSON string field of the query")
      ("document-field", po::value<std::string>()->default_value("story"), "JSON string field of the document")
      ("val-fraction", real_value(0.0),
       "share of the pairs WITHOUT a \"split\" field that become val (the others are train)")
      ("tap", po::value<std::string>()->default_value(""),
       "tap to read (default: \"final\" where the model has it, else its last block's output)")
      ("index", po::value<int64_t>(), "position to read, negative from the end (default: -1 for final, else -2)")
      ("last-token", po::value<bool>()->default_value(false)->implicit_value(true),
       "read each text's last real (non-pad) token instead of --index (not the spec's position: a small model's "
       "state deep in the padding collapses; the file's tap attribute gets the suffix @last)")
      ("batch-size", po::value<int64_t>()->default_value(16), "sequences per forward pass")
      ("threads", po::value<int>()->default_value(0), "CPU threads per rank (0: all)")
      ("device", po::value<std::string>()->default_value("auto"), "cpu | cuda | auto (cuda when a GPU is visible)");
  po::variables_map vm = set.parse(args);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  const int64_t B = get<int64_t>(vm, "batch-size");
  if (B <= 0) throw UsageError("--batch-size must be positive");
  const double val_fraction = get<double>(vm, "val-fraction");
  if (!(val_fraction >= 0.0 && val_fraction < 1.0)) throw UsageError("--val-fraction must be in [0, 1)");
  const std::string device = get<std::string>(vm, "device");
  if (device != "cpu" && device != "cuda" && device != "auto")
    throw UsageError("--device must be cpu, cuda or auto, got '" + device + "'");
  const int threads = get<int>(vm, "threads");
  if (threads < 0) throw UsageError("--threads must be >= 0");

  Session session = start_session();
  return run_ranked(session, [&]() -> int {
    par::Communicator& comm = *session.comm;
    const auto t0 = std::chrono::steady_clock::now();
    const std::string pairs_path = get<std::string>(vm, "pairs");
    const std::string query_field = get<std::string>(vm, "query-field"),
                      document_field = get<std::string>(vm, "document-field");
    const std::vector<PairText> pairs = read_pairs(pairs_path, query_field, document_field, val_fraction);
    InferenceModel m;
    load_inference_model(m, get<std::string>(vm, "checkpoint"), resolve_device(device),
                         std::max(session.launch.gpu, 0), threads);
    std::string data_dir;  // --data, else the folder trained on; its tokenizer must be the checkpoint's
    auto tok = load_checked_tokenizer(m.meta, m.path, get<std::string>(vm, "data"), m.data_dir, data_dir, comm.rank() == 0);
    if (tok->vocab_size() > m.model->vocab_size())
      throw UsageError("the tokenizer of " + data_dir + " has " + std::to_string(tok->vocab_size()) +
                       " ids but model '" + m.model->name() + "' only " + std::to_string(m.model->vocab_size()) +
                       " (--data names another tokenizer?)");
    const int64_t L = m.seq_len;

    // The tap and the position.
    const std::vector<std::string> offered = offered_taps(m, tok->eot());
    std::string tap = get<std::string>(vm, "tap");
    int64_t index = vm.count("index") ? vm["index"].as<int64_t>() : 0;
    if (tap.empty()) {
      const bool has_final = std::find(offered.begin(), offered.end(), "final") != offered.end();
      std::string last_block;
      for (const std::string& n : offered)
        if (n.rfind("blocks.", 0) == 0 && n.size() > 4 && n.compare(n.size() - 4, 4, ".out") == 0) last_block = n;
      if (!has_final && last_block.empty())
        throw UsageError("model '" + m.model->name() + "' offers neither a \"final\" tap nor a block output (taps: " +
                         join(offered) + "); choose one with --tap");
      tap = has_final ? "final" : last_block;
      if (!vm.count("index")) index = has_final ? -1 : -2;
    } else {
      if (std::find(offered.begin(), offered.end(), tap) == offered.end())
        throw UsageError("--tap " + tap + ": model '" + m.model->name() + "' offers " + join(offered));
      if (!vm.count("index")) index = -1;
    }
    const int64_t pos = index < 0 ? L + index : index;
    if (pos < 0 || pos >= L)
      throw UsageError("--index " + std::to_string(index) + " is outside the " + std::to_string(L) + " positions");

    // This rank's contiguous share of the pairs; each pair is two sequences (query, document).
    const int64_t P = static_cast<int64_t>(pairs.size());
    const int world = comm.size(), rank = comm.rank();
    const int64_t share = (P + world - 1) / world;
    const int64_t first = std::min(P, rank * share), last = std::min(P, first + share);
    int64_t d = 0;
    std::vector<float> mine;  // (share, 2, d), zero beyond `last`
    std::vector<int32_t> host_ids(static_cast<size_t>(B * L));
    const bool last_token = get<bool>(vm, "last-token");
    std::vector<int64_t> row_pos(static_cast<size_t>(B), pos);  // the position read in each row
    OwnedTensor ids(DType::i32, {B, L}, m.ex().device);
    Arena arena(m.ex().device);
    Graph g(m.ex(), arena);
    g.grad_enabled = false;
    models::Taps taps({tap});
    m.model->set_taps(&taps);
    const int64_t sequences = 2 * (last - first);
    for (int64_t s0 = 0; s0 < sequences; s0 += B) {
      const int64_t rows = std::min(B, sequences - s0);
      for (int64_t r = 0; r < rows; ++r) {
        const PairText& p = pairs[static_cast<size_t>(first + (s0 + r) / 2)];
        std::vector<int32_t> t = tok->encode((s0 + r) % 2 == 0 ? p.query : p.document);
        row_pos[r] = last_token ? std::max<int64_t>(0, std::min<int64_t>(static_cast<int64_t>(t.size()), L) - 1) : pos;
        t.resize(static_cast<size_t>(L), tok->eot());  // truncate, or right-pad with end-of-text
        std::copy(t.begin(), t.end(), host_ids.begin() + r * L);
      }
      Tensor batch = ids.tensor().slice_rows(0, rows);
      device_copy(m.ex().device, batch.data, Device::cpu, host_ids.data(), static_cast<size_t>(rows * L) * sizeof(int32_t));
      m.model->logits(g, m.params(), batch);
      Var v = taps.find(tap);
      WEFT_CHECK(v && v->value.shape.rank == 3 && v->value.shape[0] == rows && v->value.shape[1] == L &&
                     v->value.dtype == DType::f32,
                 "[embed] tap '", tap, "' is not an f32 (B, L, C) value: ", v ? v->value.str() : "not offered");
      if (d == 0) {
        d = v->value.shape[2];
        mine.assign(static_cast<size_t>(share * 2 * d), 0.0f);
      }
      for (int64_t r = 0; r < rows; ++r)
        device_copy(Device::cpu, mine.data() + (s0 + r) * d, v->value.device,
                    static_cast<const float*>(v->value.data) + (r * L + row_pos[r]) * d,
                    static_cast<size_t>(d) * sizeof(float));
      taps.clear();
      g.clear();
    }
    m.model->set_taps(nullptr);
    // Every rank needs d to size the gather, even one with no pairs (more ranks than pairs).
    int64_t width = d;
    comm.all_reduce(&width, 1, DType::i64, par::ReduceOp::max);
    if (mine.empty()) mine.assign(static_cast<size_t>(share * 2 * width), 0.0f);
    std::vector<float> all(rank == 0 ? static_cast<size_t>(world * share * 2 * width) : 0);
    std::vector<float> scratch(rank == 0 ? 0 : static_cast<size_t>(world * share * 2 * width));
    comm.all_gather(mine.data(), rank == 0 ? all.data() : scratch.data(), share * 2 * width, DType::f32);
    if (rank != 0) return 0;

    Embeddings e;
    e.pairs = P;
    e.dim = width;
    e.queries.resize(static_cast<size_t>(P * width));
    e.documents.resize(e.queries.size());
    for (int64_t i = 0; i < P; ++i) {
      std::copy_n(all.begin() + (2 * i) * width, width, e.queries.begin() + i * width);
      std::copy_n(all.begin() + (2 * i + 1) * width, width, e.documents.begin() + i * width);
      e.split.push_back(pairs[static_cast<size_t>(i)].split);
    }
    e.model = m.meta.model;
    e.checkpoint = std::filesystem::absolute(m.path).lexically_normal().string();
    e.tap = get<bool>(vm, "last-token") ? tap + "@last" : tap;
    e.index = index;
    e.seq_len = L;
    e.tokenizer = tok->name();
    e.tokenizer_vocab = tok->vocab_size();
    e.tokenizer_eot = tok->eot();
    e.pairs_file = std::filesystem::absolute(pairs_path).lexically_normal().string();
    e.query_field = query_field;
    e.document_field = document_field;
    const std::string out = get<std::string>(vm, "out");
    const std::filesystem::path parent = std::filesystem::path(out).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    write_embeddings(out, e);
    const std::string where = get<bool>(vm, "last-token") ? "the last real token" : "position " + std::to_string(index);
    std::printf("embedded %lld pairs (%lld train, %lld val) with %s (%s at %s of %lld, d = %lld) on %d "
                "rank%s in %.1f s: %s\n",
                (long long)P, (long long)e.count(0), (long long)e.count(1), e.model.c_str(), tap.c_str(),
                where.c_str(), (long long)L, (long long)width, world, world > 1 ? "s" : "", seconds_since(t0),
                out.c_str());
    return 0;
  });
}

}  // namespace weft::launch
