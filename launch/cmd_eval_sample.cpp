// weft eval and weft sample: load a checkpoint (its stored configuration builds the model) and either
// score a data folder or generate text, on the CPU or a GPU (--device, --dtype as for training).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "data/loader.h"
#include "data/loss_mask.h"
#include "data/segments.h"
#include "data/tokenizer.h"
#include "launch/checkpoint.h"
#include "launch/commands.h"
#include "launch/metrics.h"
#include "launch/model_options.h"
#include "launch/train_options.h"
#include "data/split.h"
#include "launch/eval_lengths.h"
#include "launch/eval_tasks.h"
#include "launch/evaluation.h"
#include "launch/session.h"
#include "launch/tokenizer_check.h"
#include "launch/trainable_state.h"
#include "runtime/kernels.h"

namespace weft::launch {

namespace {

// A checkpoint's model and parameters, ready to run (no optimizer state).
struct Loaded {
  std::unique_ptr<models::Model> model;
  std::unique_ptr<ExecContext> exec;
  std::unique_ptr<TrainableState> state;  // the checkpoint's fp32 parameters (+ the bf16 copy under --dtype bf16)
  int64_t seq_len = 0;
  std::string data_dir;  // the training data folder recorded in the configuration
  std::string path;      // the checkpoint folder loaded
  CheckpointMeta meta;
  Exec& ex() { return exec->get(); }
  ParamStore& params() { return state->params(); }
  Loaded() = default;
  Loaded(const Loaded&) = delete;
  ~Loaded() { state.reset(); }  // before the Exec it runs on
};

// gpu: the CUDA device (under a launcher, the rank's; ignored on the CPU). With a session, --threads 0 is
// the cores available to the rank (resolve_threads).
void load_for_inference(Loaded& l, const std::string& checkpoint_flag, const po::variables_map& vm, int gpu = 0,
                        Session* session = nullptr) {
  std::string device_flag, dtype_flag;
  int threads = 0;
  device_options(vm, device_flag, dtype_flag, threads);
  if (session) threads = resolve_threads(*session, threads);
  const Device dev = resolve_device(device_flag);
  const DType compute = parse_compute_dtype(dtype_flag, dev);
  std::string path = checkpoint_flag;
  if (std::filesystem::is_directory(path + "/checkpoints")) {  // a run folder: its latest checkpoint
    path = resolve_checkpoint(path, "latest", "--checkpoint");  // the newest that verifies
  }
  WEFT_CHECK(std::filesystem::exists(path), "--checkpoint: '", checkpoint_flag, "' does not exist");
  if (std::filesystem::is_directory(path) && !std::filesystem::exists(path + "/manifest.txt"))
    throw UsageError("--checkpoint: '" + checkpoint_flag + "' has no manifest.txt (an incomplete save, or not a " +
                     "checkpoint) and no checkpoints/ (not a run folder)");
  l.path = path;
  l.meta = read_checkpoint_meta(path);
  const CheckpointMeta& meta = l.meta;
  l.model = make_model_from_ini(meta.config_ini, &l.seq_len);
  l.exec = std::make_unique<ExecContext>(dev, gpu, threads);
  l.state = std::make_unique<TrainableState>(*l.model, l.ex(), compute);
  l.state->load(path, nullptr);
  l.data_dir = ini_section(meta.config_ini, "data")["data"];
}

// The body of weft eval on every rank (after --help).
int eval_on_ranks(const po::variables_map& vm, Session& session);

}  // namespace

int cmd_eval(const std::vector<std::string>& args) {
  OptionSet set("eval");
  set.group("eval").add_options()
      ("checkpoint", po::value<std::string>()->required(), "checkpoint folder, or a run folder (its latest)")
      ("data", po::value<std::string>()->default_value(""), "data folder (default: the one trained on)")
      ("split", po::value<std::string>()->default_value("val"), "val | train")
      ("pack", po::value<std::string>()->default_value("concat"), kPackHelp)
      ("seq-len", po::value<int64_t>()->default_value(0), "evaluation length (0: the training length)")
      ("batch-size", po::value<int64_t>()->default_value(8), "windows per forward pass (--pack segments: streams)")
      ("batches", po::value<int64_t>()->default_value(0),
       "batches of --batch-size windows to score in total over all ranks (0: the whole split; --pack segments: "
       "segments per stream)")
      ("lengths", po::value<std::string>(),
       "length extrapolation: comma-separated window lengths, e.g. 128,256,512 (one JSON line each)")
      ("mode", po::value<std::string>()->default_value("nonoverlap"),
       "--lengths windows: nonoverlap | sliding (start advances by --stride, only targets not scored before count)")
      ("stride", po::value<int64_t>()->default_value(0), "--mode sliding: stride S, 1 <= S <= length (0: length / 2)")
      ("positions-out", po::value<std::string>()->default_value(""),
       "--lengths: JSONL file of the mean NLL at every window position, one line per length")
      ("task", po::value<std::vector<std::string>>()->multitoken(),
       "pairs FILE.jsonl | choice FILE.jsonl: zero-shot minimal pairs or multiple choice (docs/zero-shot.md)");
  add_device_options(set, "eval");
  po::variables_map vm = set.parse(args);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  if (vm.count("task")) return cmd_eval_task(vm);  // zero-shot tasks, launch/eval_tasks.h
  // Under a launcher the ranks share the windows; only rank 0 prints.
  Session session = start_session();
  return run_ranked(session, [&]() -> int { return eval_on_ranks(vm, session); });
}

namespace {

int eval_on_ranks(const po::variables_map& vm, Session& session) {
  par::Communicator& comm = *session.comm;
  session.watchdog->set_timeout(collective_timeout_option(vm));
  Loaded l;
  load_for_inference(l, get<std::string>(vm, "checkpoint"), vm, std::max(session.launch.gpu, 0), &session);
  std::string dir;  // --data, else the folder trained on; its tokenizer must be the checkpoint's
  load_checked_tokenizer(l.meta, l.path, get<std::string>(vm, "data"), l.data_dir, dir, comm.rank() == 0);
  int64_t T = get<int64_t>(vm, "seq-len") > 0 ? get<int64_t>(vm, "seq-len") : l.seq_len;
  const int64_t B = get<int64_t>(vm, "batch-size");
  if (B <= 0) throw UsageError("--batch-size must be positive");
  if (T > l.model->max_seq_len())
    throw UsageError("--seq-len " + std::to_string(T) + ": model '" + l.model->name() + "' supports sequences of at most " +
                     std::to_string(l.model->max_seq_len()) + " tokens");
  const std::string split = get<std::string>(vm, "split");
  const data::Packing pack = parse_packing(get<std::string>(vm, "pack"));
  auto shards = data::open_split(dir, split, l.model->vocab_size());
  auto masks = data::open_loss_mask(dir, split, shards);
  if (vm.count("lengths")) {  // length extrapolation (launch/eval_lengths.h)
    if (get<int64_t>(vm, "seq-len") > 0) throw UsageError("--lengths replaces --seq-len: give one of them");
    if (pack != data::Packing::concat) throw UsageError("--lengths evaluates --pack concat windows");
    LengthEvalRequest lengths{parse_lengths(get<std::string>(vm, "lengths")), parse_window_mode(get<std::string>(vm, "mode")),
                              get<int64_t>(vm, "stride"), B, get<int64_t>(vm, "batches"),
                              get<std::string>(vm, "positions-out")};
    return evaluate_lengths(*l.model, l.params(), l.ex(), shards, masks, split, lengths, comm);
  }
  // A loss mask (the sorting task): only its targets count, and the argmax accuracy is reported.
  EvalRequest request{0, B, !masks.empty()};
  Arena arena(l.ex().device);
  EvalTotals totals;
  if (pack == data::Packing::segments) {
    data::SegmentLoader loader(shards, T, B);  // errors name --seq-len and the streams
    loader.set_loss_mask(std::move(masks));
    const int64_t batches = get<int64_t>(vm, "batches");
    request.windows = (batches > 0 ? std::min(batches, loader.max_segments()) : loader.max_segments()) * B;
    totals = evaluate_segments(*l.model, l.params(), l.ex(), arena, loader, request, comm);
  } else {
    data::WindowLoader loader(shards, T, 0, pack);
    loader.set_loss_mask(std::move(masks));
    int64_t windows = loader.windows();
    if (get<int64_t>(vm, "batches") > 0) windows = std::min(windows, get<int64_t>(vm, "batches") * B);
    if (windows == 0)
      throw UsageError("--split " + split + ": " + dir + " holds no window of " + std::to_string(T) +
                       " tokens (lower --seq-len)");
    request.windows = windows;
    totals = evaluate_windows(*l.model, l.params(), l.ex(), arena, loader, request, comm);
  }
  const double loss = totals.mean();
  JsonLine json;
  json.num("loss", loss).num("perplexity", std::exp(loss)).integer("tokens", totals.tokens);
  if (request.accuracy)  // answer tokens right by argmax; answers (runs of counted targets) entirely right
    json.num("accuracy", totals.accuracy())
        .num("sequence_accuracy", totals.sequence_accuracy())
        .integer("sequences", totals.sequences);
  json.integer("seq_len", T).str("pack", packing_name(pack)).str("data", dir);
  if (comm.rank() == 0) std::printf("%s\n", json.text().c_str());
  return 0;
}

}  // namespace

int cmd_sample(const std::vector<std::string>& args) {
  OptionSet set("sample");
  set.group("sample").add_options()
      ("checkpoint", po::value<std::string>()->required(), "checkpoint folder, or a run folder (its latest)")
      ("data", po::value<std::string>()->default_value(""), "data folder whose tokenizer to use (default: trained on)")
      ("prompt", po::value<std::string>()->default_value(""), "text to continue")
      ("max-new-tokens", po::value<int64_t>()->default_value(200), "tokens to generate")
      ("temperature", real_value(0.8), "softmax temperature (0: greedy)")
      ("top-k", po::value<int64_t>()->default_value(40), "sample among the k most likely (0: all)")
      ("seed", po::value<uint64_t>()->default_value(1), "sampling seed");
  add_device_options(set, "sample");
  po::variables_map vm = set.parse(args);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  const double temperature = get<double>(vm, "temperature");
  const int64_t top_k = get<int64_t>(vm, "top-k"), max_new = get<int64_t>(vm, "max-new-tokens");
  if (temperature < 0) throw UsageError("--temperature must be >= 0");
  if (top_k < 0) throw UsageError("--top-k must be >= 0");
  Loaded l;
  load_for_inference(l, get<std::string>(vm, "checkpoint"), vm);
  std::string dir;
  auto tok = load_checked_tokenizer(l.meta, l.path, get<std::string>(vm, "data"), l.data_dir, dir, true);
  std::vector<int32_t> ids = tok->encode(get<std::string>(vm, "prompt"));
  if (ids.empty()) ids.push_back(tok->eot());  // no prompt: start a new document
  const size_t prompt_len = ids.size();
  Exec cpu_ex = cpu_exec(1);  // host-side widening of the logits row
  Arena arena(l.ex().device);
  Graph g(l.ex(), arena);
  g.grad_enabled = false;
  Rng rng(get<uint64_t>(vm, "seed"));
  const int64_t V = l.model->vocab_size();
  std::vector<double> p(V);
  std::vector<float> last_row(V);
  OwnedTensor in(DType::i32, {1, l.seq_len}), din(DType::i32, {1, l.seq_len}, l.ex().device);
  for (int64_t step = 0; step < max_new; ++step) {
    int64_t T = std::min<int64_t>(static_cast<int64_t>(ids.size()), l.seq_len);
    std::copy(ids.end() - T, ids.end(), in.ptr<int32_t>());
    Tensor window = din.tensor().slice_rows(0, 1);
    window.shape = Shape{1, T};
    device_copy(l.ex().device, window.data, Device::cpu, in.tensor().data, static_cast<size_t>(T) * sizeof(int32_t));
    Var logits = l.model->logits(g, l.params(), window);  // (1, T, V)
    Tensor last_logits = logits->value;  // the last position's row, widened to f32 on the host
    const size_t es = dtype_size(last_logits.dtype);
    std::vector<char> raw(static_cast<size_t>(V) * es);
    device_copy(Device::cpu, raw.data(), l.ex().device, static_cast<const char*>(last_logits.data) + (T - 1) * V * es, raw.size());
    cpu::cast(l.ex().device == Device::cpu ? l.ex() : cpu_ex, DType::f32, last_row.data(), last_logits.dtype, raw.data(), V, false);
    const float* last = last_row.data();
    int32_t next;
    if (temperature == 0) {
      next = static_cast<int32_t>(std::max_element(last, last + V) - last);
    } else {
      std::vector<int32_t> order(V);
      std::iota(order.begin(), order.end(), 0);
      int64_t k = top_k > 0 ? std::min(top_k, V) : V;
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) { return last[a] > last[b]; });
      double mx = last[order[0]], total = 0;
      for (int64_t i = 0; i < k; ++i) total += (p[i] = std::exp((last[order[i]] - mx) / temperature));
      double u = rng.uniform() * total, acc = 0;
      next = order[k - 1];
      for (int64_t i = 0; i < k; ++i)
        if ((acc += p[i]) >= u) {
          next = order[i];
          break;
        }
    }
    g.clear();
    if (next == tok->eot()) break;
    ids.push_back(next);
  }
  std::vector<int32_t> prompt_ids(ids.begin(), ids.begin() + prompt_len), generated(ids.begin() + prompt_len, ids.end());
  std::printf("%s%s\n", tok->decode(prompt_ids).c_str(), tok->decode(generated).c_str());
  return 0;
}

}  // namespace weft::launch
