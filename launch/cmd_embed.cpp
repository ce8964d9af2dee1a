// weft embed: a frozen generative model embeds the query and the document of every pair of a JSONL file
// (spec masked-mixer.md A.10 items 2-3), for `weft retrieval`. Each text is tokenized with the run's
// tokenizer, truncated / right-padded with end-of-text to the model's training length L (no BOS, A.5), run
// through the model in fp32 with a tap, and the tap's value at one position is the embedding:
//   a family with a "final" tap (the transformer: after the final norm)   final at -1
//   any other (the masked mixer: its last block's output)                 blocks.<N-1>.out at -2
// (--tap, --index, --last-token, --mean-pool override). Under mpirun the pairs are split into equal contiguous shares, one per rank,
// gathered to rank 0, which writes the file (launch/embeddings_file.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/tokenizer.h"
#include "launch/commands.h"
#include "launch/embedding_tap.h"
#include "launch/embeddings_file.h"
#include "launch/inference_model.h"
#include "launch/pairs_file.h"
#include "launch/session.h"
#include "launch/train_options.h"
#include "launch/tokenizer_check.h"

namespace weft::launch {

namespace {

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
      ("batch-size", po::value<int64_t>()->default_value(16), "sequences per forward pass")
      ("threads", po::value<int>()->default_value(0), "CPU threads per rank (0: all)")
      ("device", po::value<std::string>()->default_value("auto"), "cpu | cuda | auto (cuda when a GPU is visible)");
  add_embedding_tap_options(set, "embed");
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

    // The tap and the position (launch/embedding_tap.h).
    const EmbeddingTap choice =
        choose_embedding_tap(embedding_tap_flags(vm), offered_taps(*m.model, m.params(), m.ex(), L, tok->eot()), m.model->name(), L);
    const std::string& tap = choice.tap;
    const int64_t index = choice.index;

    // This rank's contiguous share of the pairs; each pair is two sequences (query, document).
    const int64_t P = static_cast<int64_t>(pairs.size());
    const int world = comm.size(), rank = comm.rank();
    const int64_t share = (P + world - 1) / world;
    const int64_t first = std::min(P, rank * share), last = std::min(P, first + share);
    int64_t d = 0;
    std::vector<float> mine;  // (share, 2, d), zero beyond `last`
    std::vector<int32_t> host_ids(static_cast<size_t>(B * L));
    std::vector<int64_t> row_pos(static_cast<size_t>(B), choice.position);  // the position read in each row
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
        row_pos[r] = encode_for_embedding(*tok, (s0 + r) % 2 == 0 ? p.query : p.document, L, choice,
                                          host_ids.data() + r * L);
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
      for (int64_t r = 0; r < rows; ++r) {
        float* out = mine.data() + (s0 + r) * d;
        const float* row = static_cast<const float*>(v->value.data) + r * L * d;
        if (!choice.mean_pool) {
          device_copy(Device::cpu, out, v->value.device, row + row_pos[r] * d, static_cast<size_t>(d) * sizeof(float));
          continue;
        }
        // (real, d) -> the mean over the text's real tokens, summed in double
        std::vector<float> values(static_cast<size_t>(row_pos[r] * d));
        device_copy(Device::cpu, values.data(), v->value.device, row, values.size() * sizeof(float));
        for (int64_t c = 0; c < d; ++c) {
          double sum = 0;
          for (int64_t t = 0; t < row_pos[r]; ++t) sum += values[static_cast<size_t>(t * d + c)];
          out[c] = static_cast<float>(sum / static_cast<double>(row_pos[r]));
        }
      }
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
    e.tap = choice.label();
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
    const std::string where = choice.last_token  ? "the last real token"
                              : choice.mean_pool ? "the mean over the real tokens"
                                                 : "position " + std::to_string(index);
    std::printf("embedded %lld pairs (%lld train, %lld val) with %s (%s at %s of %lld, d = %lld) on %d "
                "rank%s in %.1f s: %s\n",
                (long long)P, (long long)e.count(0), (long long)e.count(1), e.model.c_str(), tap.c_str(),
                where.c_str(), (long long)L, (long long)width, world, world > 1 ? "s" : "", seconds_since(t0),
                out.c_str());
    return 0;
  });
}

}  // namespace weft::launch
