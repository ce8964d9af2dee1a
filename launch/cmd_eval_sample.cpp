// weft eval and weft sample: load a checkpoint (its stored configuration builds the model) and either
// score a data folder or generate text, on the CPU or a GPU (--device, --dtype as for training).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

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
#include "launch/sampling.h"
#include "launch/session.h"
#include "launch/tokenizer_check.h"
#include "launch/trainable_state.h"

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
  const KernelBackends kernels = kernel_backend_options(vm);
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
  kernels.apply(l.exec->get());
  apply_cpu_dtype(l.exec->get(), dtype_flag);
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
      ("prompt", po::value<std::vector<std::string>>()->composing(),
       "text to continue; repeat for several prompts, sampled as one batch (default: one empty prompt)")
      ("prompts", po::value<std::string>()->default_value(""),
       "file of prompts, one per line (blank lines skipped), sampled as one batch after any --prompt")
      ("max-new-tokens", po::value<int64_t>()->default_value(200), "tokens to generate per prompt")
      ("temperature", real_value(0.8), "softmax temperature (0: greedy)")
      ("top-k", po::value<int64_t>()->default_value(40), "sample among the k most likely (0: all)")
      ("seed", po::value<uint64_t>()->default_value(1), "sampling seed")
      ("no-cache", po::bool_switch(), "recompute the whole window for every token (no decode cache)");
  add_device_options(set, "sample");
  po::variables_map vm = set.parse(args);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  SampleOptions opts;
  opts.temperature = get<double>(vm, "temperature");
  opts.top_k = get<int64_t>(vm, "top-k");
  opts.max_new = get<int64_t>(vm, "max-new-tokens");
  opts.seed = get<uint64_t>(vm, "seed");
  opts.use_cache = !vm["no-cache"].as<bool>();
  if (opts.temperature < 0) throw UsageError("--temperature must be >= 0");
  if (opts.top_k < 0) throw UsageError("--top-k must be >= 0");
  std::vector<std::string> texts = vm.count("prompt") ? vm["prompt"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (const std::string file = get<std::string>(vm, "prompts"); !file.empty()) {
    std::ifstream in(file);
    if (!in) throw UsageError("--prompts: cannot read '" + file + "'");
    for (std::string line; std::getline(in, line);)
      if (line.find_first_not_of(" \t\r") != std::string::npos) texts.push_back(line);
    if (texts.empty()) throw UsageError("--prompts: '" + file + "' holds no prompt");
  }
  if (texts.empty()) texts.emplace_back();
  Loaded l;
  load_for_inference(l, get<std::string>(vm, "checkpoint"), vm);
  std::string dir;
  auto tok = load_checked_tokenizer(l.meta, l.path, get<std::string>(vm, "data"), l.data_dir, dir, true);
  std::vector<std::vector<int32_t>> prompts;
  for (const std::string& text : texts) {
    prompts.push_back(tok->encode(text));
    if (prompts.back().empty()) prompts.back().push_back(tok->eot());  // no prompt: start a new document
  }
  opts.window = std::min(l.seq_len, l.model->max_seq_len());
  // One prompt: its text, then each piece as it comes (a multi-byte character waits for its last byte).
  // Several: one JSON line per prompt, in prompt order, each as soon as it and those before it are done.
  const bool stream = prompts.size() == 1;
  std::vector<std::vector<int32_t>> generated(prompts.size());
  std::vector<bool> done(prompts.size(), false);
  std::string printed;  // the continuation's bytes printed so far (one prompt)
  size_t next_line = 0;
  if (stream) {
    std::printf("%s", tok->decode(prompts[0]).c_str());
    std::fflush(stdout);
  }
  auto on_token = [&](size_t row, int32_t id) {
    generated[row].push_back(id);
    if (!stream) return;
    const std::string text = tok->decode(generated[row]);
    const size_t ready = complete_utf8_prefix(text);
    if (ready > printed.size() && text.compare(0, printed.size(), printed) == 0) {
      std::fwrite(text.data() + printed.size(), 1, ready - printed.size(), stdout);
      std::fflush(stdout);
      printed = text.substr(0, ready);
    }
  };
  auto on_done = [&](size_t row) {
    done[row] = true;
    if (stream) {
      const std::string text = tok->decode(generated[row]);
      if (text.compare(0, printed.size(), printed) == 0) std::fwrite(text.data() + printed.size(), 1, text.size() - printed.size(), stdout);
      std::printf("\n");
      std::fflush(stdout);
      return;
    }
    for (; next_line < prompts.size() && done[next_line]; ++next_line) {
      JsonLine json;
      json.integer("prompt", static_cast<int64_t>(next_line)).str("text", tok->decode(prompts[next_line]) + tok->decode(generated[next_line]));
      std::printf("%s\n", json.text().c_str());
      std::fflush(stdout);
    }
  };
  generate(*l.model, l.params(), l.ex(), prompts, tok->eot(), opts, on_token, on_done);
  return 0;
}

}  // namespace weft::launch
