// weft retrieval train | eval: the retrieval model of spec masked-mixer.md A.10 (models/retrieval/) on the
// embeddings `weft embed` wrote.
//   train  samples [query, N - 1 candidates] from the train pool (launch/retrieval_samples.h: fresh
//          negatives every epoch, a counter-based function of (seed, epoch, pair)), AdamW with warmup +
//          cosine through TrainableState and a one-rank Replicated GradReducer, progress lines and
//          metrics.jsonl in --out, atomic HDF5 checkpoints in --out/checkpoints; --resume continues bit for bit.
//   eval   top-1 accuracy and mean loss over the val pairs, negatives drawn from the val pool with a fixed
//          seed; one JSON line. --cosine: no retrieval model, the candidate of highest cosine similarity wins
//          (the v2 method, after `weft train --objective infonce`), the loss InfoNCE's at --tau.
// A checkpoint's configuration holds the architecture ([retrieval]), the training flags ([train]) and the
// provenance of the embeddings it was trained on ([embeddings]): eval and resume refuse embeddings of
// another width, generative model, tap, position, length or tokenizer.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "launch/checkpoint.h"
#include "launch/commands.h"
#include "launch/embeddings_file.h"
#include "launch/metrics.h"
#include "launch/options.h"
#include "launch/retrieval_samples.h"
#include "launch/trainable_state.h"
#include "launch/train_options.h"
#include "models/retrieval/retrieval_mixer.h"
#include "parallel/grad_reducer.h"
#include "runtime/optim/lr_schedule.h"

namespace weft::launch {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void add_runtime_options(OptionSet& set, const std::string& group) {
  set.group(group).add_options()
      ("threads", po::value<int>()->default_value(0), "CPU threads (0: all)")
      ("device", po::value<std::string>()->default_value("cpu"), "cpu | cuda | auto");
}

Device runtime_device(const po::variables_map& vm) {
  const std::string device = get<std::string>(vm, "device");
  if (device != "cpu" && device != "cuda" && device != "auto")
    throw UsageError("--device must be cpu, cuda or auto, got '" + device + "'");
  if (get<int>(vm, "threads") < 0) throw UsageError("--threads must be >= 0");
  return resolve_device(device);
}

// The [embeddings] section: what must match between the embeddings a model was trained on and others.
std::string embeddings_ini(const Embeddings& e, const std::string& file) {
  std::ostringstream os;
  os << "[embeddings]\n"
     << "file = " << std::filesystem::absolute(file).lexically_normal().string() << "\n"
     << "d-model = " << e.dim << "\n"
     << "model = " << e.model << "\n"
     << "checkpoint = " << e.checkpoint << "\n"
     << "tap = " << e.tap << "\n"
     << "index = " << e.index << "\n"
     << "seq-len = " << e.seq_len << "\n"
     << "tokenizer = " << e.tokenizer << "\n"
     << "tokenizer-vocab = " << e.tokenizer_vocab << "\n"
     << "tokenizer-eot = " << e.tokenizer_eot << "\n";
  return os.str();
}

// Refuses embeddings unlike those the checkpoint was trained on (the first difference is named).
void check_embeddings_match(const std::string& checkpoint_ini, const std::string& checkpoint, const Embeddings& e,
                            const std::string& file) {
  auto stored = ini_section(checkpoint_ini, "embeddings");
  auto now = ini_section(embeddings_ini(e, file), "embeddings");
  if (stored["d-model"] != now["d-model"])
    throw UsageError("--embeddings " + file + " holds vectors of width " + now["d-model"] + ", but the retrieval model " +
                     checkpoint + " was trained on width " + stored["d-model"]);
  for (const char* key : {"model", "tap", "index", "seq-len", "tokenizer", "tokenizer-vocab", "tokenizer-eot"})
    if (stored[key] != now[key])
      throw UsageError("--embeddings " + file + " comes from " + key + " = " + now[key] + ", but the retrieval model " +
                       checkpoint + " was trained on embeddings with " + key + " = " + stored[key] +
                       " (embed with the same generative model, tap, position and tokenizer)");
}

models::RetrievalConfig config_from_ini(const std::string& ini) {
  auto r = ini_section(ini, "retrieval");
  auto e = ini_section(ini, "embeddings");
  models::RetrievalConfig c;
  try {
    c.d_model = std::stoll(e.at("d-model"));
    c.slots = std::stoll(r.at("candidates"));
    c.n_layers = std::stoll(r.at("layers"));
    c.d_ff = std::stoll(r.at("d-ff"));
  } catch (const std::exception&) {
    throw UsageError("the checkpoint's configuration has no complete [retrieval] / [embeddings] section "
                     "(not a checkpoint of `weft retrieval train`?)");
  }
  return c;
}

int64_t argmax(const float* row, int64_t n) { return std::max_element(row, row + n) - row; }

struct EvalResult {
  double accuracy = 0.0, loss = 0.0;
  int64_t pairs = 0;
};

// Every pair of the sampler's pool once (epoch 0, file order), batches of B.
EvalResult evaluate(models::RetrievalMixer& model, ParamStore& params, Exec& ex, RetrievalSampler& sampler, int64_t B) {
  const int64_t N = model.config().slots, d = model.config().d_model, P = sampler.size();
  std::vector<float> x(static_cast<size_t>(B * N * d));
  std::vector<int32_t> labels(static_cast<size_t>(B));
  OwnedTensor dx(DType::f32, {B, N, d}, ex.device), dl(DType::i32, {B}, ex.device);
  std::vector<float> scores(static_cast<size_t>(B * (N - 1))), losses(static_cast<size_t>(B));
  Arena arena(ex.device);
  Graph g(ex, arena);
  g.grad_enabled = false;
  double loss_sum = 0.0;
  int64_t correct = 0;
  for (int64_t p0 = 0; p0 < P; p0 += B) {
    const int64_t rows = std::min(B, P - p0);
    for (int64_t r = 0; r < rows; ++r) labels[static_cast<size_t>(r)] = sampler.sample_at(0, p0 + r, x.data() + r * N * d);
    Tensor xt = dx.tensor().slice_rows(0, rows), lt = dl.tensor().slice_rows(0, rows);
    device_copy(ex.device, xt.data, Device::cpu, x.data(), xt.nbytes());
    device_copy(ex.device, lt.data, Device::cpu, labels.data(), lt.nbytes());
    Var s = model.scores(g, params, xt);
    Tensor l = ops::token_losses(g, s, g.constant(lt));
    device_copy(Device::cpu, scores.data(), ex.device, s->value.data, s->value.nbytes());
    device_copy(Device::cpu, losses.data(), ex.device, l.data, l.nbytes());
    for (int64_t r = 0; r < rows; ++r) {
      loss_sum += losses[static_cast<size_t>(r)];
      correct += argmax(scores.data() + r * (N - 1), N - 1) == labels[static_cast<size_t>(r)];
    }
    g.clear();
  }
  return EvalResult{static_cast<double>(correct) / static_cast<double>(P), loss_sum / static_cast<double>(P), P};
}

// Top-1 cosine retrieval (the v2 method, spec A.10 item 10): for every pair of the sampler's pool, the
// candidate whose embedding has the highest cosine with the query's; the loss is InfoNCE's, the cross-entropy
// of cos / tau over the N - 1 candidates. fp64 on the host.
EvalResult evaluate_cosine(RetrievalSampler& sampler, int64_t N, int64_t d, double tau) {
  const int64_t P = sampler.size();
  std::vector<float> x(static_cast<size_t>(N * d));
  std::vector<double> unit(static_cast<size_t>(N * d)), scores(static_cast<size_t>(N - 1));
  double loss_sum = 0.0;
  int64_t correct = 0;
  for (int64_t p = 0; p < P; ++p) {
    const int32_t label = sampler.sample_at(0, p, x.data());
    for (int64_t s = 0; s < N; ++s) {
      double sq = 0.0;
      for (int64_t c = 0; c < d; ++c) sq += double(x[s * d + c]) * double(x[s * d + c]);
      const double inv = 1.0 / std::sqrt(sq + 1e-12);  // as models/common/infonce.h
      for (int64_t c = 0; c < d; ++c) unit[s * d + c] = double(x[s * d + c]) * inv;
    }
    double top = -1e300;
    for (int64_t s = 1; s < N; ++s) {
      double dot = 0.0;
      for (int64_t c = 0; c < d; ++c) dot += unit[c] * unit[s * d + c];
      scores[static_cast<size_t>(s - 1)] = dot / tau;
      top = std::max(top, dot / tau);
    }
    double z = 0.0;
    for (double v : scores) z += std::exp(v - top);
    loss_sum += top + std::log(z) - scores[static_cast<size_t>(label)];
    correct += std::max_element(scores.begin(), scores.end()) - scores.begin() == label;
  }
  return EvalResult{static_cast<double>(correct) / static_cast<double>(P), loss_sum / static_cast<double>(P), P};
}

int retrieval_train(const std::vector<std::string>& args) {
  OptionSet set("retrieval train");
  set.group("retrieval").add_options()
      ("candidates", po::value<int64_t>()->required(), "N: slots per sample, the query and N - 1 candidates")
      ("layers", po::value<int64_t>()->default_value(8), "mixer blocks")
      ("d-ff", po::value<int64_t>()->default_value(0), "FFN width (0: 4 x the embeddings' width)");
  set.group("train").add_options()
      ("embeddings", po::value<std::string>()->required(), "embeddings file of `weft embed` (its train pairs)")
      ("out", po::value<std::string>()->required(), "run folder: metrics.jsonl, config.ini, checkpoints/")
      ("steps", po::value<int64_t>()->required(), "optimizer steps")
      ("batch-size", po::value<int64_t>()->default_value(32), "samples per step")
      ("lr", real_value(1e-4), "peak learning rate")
      ("min-lr", real_value(0.0), "learning rate at the end of the cosine")
      ("warmup", po::value<int64_t>()->default_value(100), "linear warmup steps (at most --steps when not given)")
      ("weight-decay", real_value(0.01), "AdamW decoupled weight decay (matrices only)")
      ("beta1", real_value(0.9), "AdamW beta1")
      ("beta2", real_value(0.999), "AdamW beta2")
      ("clip", real_value(0.0), "global gradient-norm clip (0: off)")
      ("seed", po::value<uint64_t>()->default_value(1), "initialisation and sampling seed")
      ("log-every", po::value<int64_t>()->default_value(10), "steps between progress lines")
      ("eval-every", po::value<int64_t>()->default_value(0), "steps between val evaluations (0: at the end only)")
      ("eval-seed", po::value<uint64_t>()->default_value(1234), "seed of the val negatives")
      ("save-every", po::value<int64_t>()->default_value(0), "steps between checkpoints (0: only at the end)")
      ("keep-checkpoints", po::value<int64_t>()->default_value(3), "checkpoints to keep")
      ("resume", po::value<std::string>()->default_value(""), "PATH | latest | auto (latest if it exists)");
  add_runtime_options(set, "train");
  po::variables_map vm = set.parse(args);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  const std::string emb_path = get<std::string>(vm, "embeddings"), out = get<std::string>(vm, "out");
  const int64_t steps = get<int64_t>(vm, "steps"), B = get<int64_t>(vm, "batch-size");
  const int64_t log_every = get<int64_t>(vm, "log-every"), eval_every = get<int64_t>(vm, "eval-every"),
                save_every = get<int64_t>(vm, "save-every"), keep = get<int64_t>(vm, "keep-checkpoints");
  if (steps <= 0) throw UsageError("--steps must be positive");
  if (B <= 0) throw UsageError("--batch-size must be positive");
  if (log_every <= 0) throw UsageError("--log-every must be positive");
  if (eval_every < 0 || save_every < 0) throw UsageError("--eval-every and --save-every must be >= 0");
  if (keep <= 0) throw UsageError("--keep-checkpoints must be positive");
  const Device dev = runtime_device(vm);
  const Embeddings emb = read_embeddings(emb_path);
  models::RetrievalConfig cfg;
  cfg.d_model = emb.dim;
  cfg.slots = get<int64_t>(vm, "candidates");
  cfg.n_layers = get<int64_t>(vm, "layers");
  cfg.d_ff = get<int64_t>(vm, "d-ff");
  try {
    cfg.validate();
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  const uint64_t seed = get<uint64_t>(vm, "seed");
  RetrievalSampler train(emb, 0, cfg.slots, seed, true);
  std::unique_ptr<RetrievalSampler> val;
  if (emb.count(1) >= cfg.slots) val = std::make_unique<RetrievalSampler>(emb, 1, cfg.slots, get<uint64_t>(vm, "eval-seed"), false);

  const std::string ini = set.effective_ini(vm) + embeddings_ini(emb, emb_path);
  const std::string resume = resolve_checkpoint(out, get<std::string>(vm, "resume"));
  if (!resume.empty()) {  // the architecture and the embeddings must be those of the checkpoint
    const std::string stored = read_checkpoint_meta(resume).config_ini;
    const models::RetrievalConfig s = config_from_ini(stored);
    check_embeddings_match(stored, resume, emb, emb_path);
    if (s.slots != cfg.slots || s.n_layers != cfg.n_layers || s.d_ff != cfg.d_ff)
      throw UsageError("--candidates " + std::to_string(cfg.slots) + " --layers " + std::to_string(cfg.n_layers) +
                       " --d-ff " + std::to_string(cfg.d_ff) + " contradict the checkpoint " + resume + " (" +
                       std::to_string(s.slots) + ", " + std::to_string(s.n_layers) + ", " + std::to_string(s.d_ff) + ")");
  }

  models::RetrievalMixer model(cfg);
  ExecContext exec(dev, 0, get<int>(vm, "threads"));
  Exec& ex = exec.get();
  auto comm = par::make_local_communicator(dev);
  auto host_comm = par::make_local_communicator();
  TrainableState state(model, ex, DType::f32);
  auto reducer = par::make_grad_reducer(0, state.master(), *comm, *host_comm, 0, state.fold_fn());
  state.attach_optimizer(optim::AdamWConfig{static_cast<float>(get<double>(vm, "lr")),
                                            static_cast<float>(get<double>(vm, "beta1")),
                                            static_cast<float>(get<double>(vm, "beta2")), 1e-8f,
                                            static_cast<float>(get<double>(vm, "weight-decay"))},
                         *reducer);
  state.initialize(seed);
  const optim::LrSchedule schedule = [&] {
    try {
      const int64_t warmup = vm["warmup"].defaulted() ? std::min(get<int64_t>(vm, "warmup"), steps) : get<int64_t>(vm, "warmup");
      return optim::LrSchedule("cosine", get<double>(vm, "lr"), get<double>(vm, "min-lr"), warmup, steps);
    } catch (const Error& e) {
      throw UsageError(e.what());
    }
  }();
  TrainState ts;
  ts.rng = RngState{seed, 0, 0};
  ts.lr_decay_steps = steps;
  if (!resume.empty()) {
    state.load(resume, &ts);
    std::printf("resumed from %s at step %lld\n", resume.c_str(), (long long)ts.step);
    if (ts.lr_decay_steps > 0 && ts.lr_decay_steps != steps)
      std::printf("note: the learning rate now follows a cosine over --steps %lld; the checkpoint's run decayed over "
                  "%lld steps\n",
                  (long long)steps, (long long)ts.lr_decay_steps);
    ts.lr_decay_steps = steps;
  }
  std::filesystem::create_directories(out);
  std::ofstream(out + "/config.ini") << ini;
  MetricsWriter metrics(out + "/metrics.jsonl");
  const CheckpointMeta meta{"retrieval", ini, weft_version(), 1};
  std::printf("retrieval model: %lld parameters, N = %lld slots, %lld layers, d = %lld; %lld train pairs, %lld val; "
              "embeddings of %s (%s%s)\n",
              (long long)state.master().numel(), (long long)cfg.slots, (long long)cfg.n_layers, (long long)cfg.d_model,
              (long long)train.size(), (long long)(val ? val->size() : emb.count(1)), emb.model.c_str(),
              emb.tap.c_str(), emb.tap.find('@') == std::string::npos ? (" at " + std::to_string(emb.index)).c_str() : "");

  const int64_t N = cfg.slots, d = cfg.d_model;
  std::vector<float> x(static_cast<size_t>(B * N * d)), scores(static_cast<size_t>(B * (N - 1)));
  std::vector<int32_t> labels(static_cast<size_t>(B));
  OwnedTensor dx(DType::f32, {B, N, d}, dev), dl(DType::i32, {B}, dev);
  Arena arena(dev);
  auto save = [&] {
    OwnedTensor moments[2];
    OptimState os = state.optimizer_state(*reducer, moments);
    std::string path = save_checkpoint(out, state.master(), os, ts, meta, keep, *host_comm);
    std::printf("saved checkpoint %s\n", path.c_str());
  };
  auto run_eval = [&](const char* when) {
    if (!val) return;
    EvalResult r = evaluate(model, state.params(), ex, *val, B);
    std::printf("val (%s): accuracy %.4f | loss %.4f | %lld pairs, N = %lld (chance %.4f)\n", when, r.accuracy, r.loss,
                (long long)r.pairs, (long long)N, 1.0 / static_cast<double>(N - 1));
    metrics.write(JsonLine().integer("step", ts.step).num("val_loss", r.loss).num("val_accuracy", r.accuracy));
  };
  double window_start = now_s(), loss_sum = 0.0;
  int64_t window_steps = 0, window_correct = 0;
  while (ts.step < steps) {
    const double t0 = now_s();
    for (int64_t b = 0; b < B; ++b)
      labels[static_cast<size_t>(b)] = train.sample(ts.consumed_samples + b, x.data() + b * N * d);
    device_copy(dev, dx.tensor().data, Device::cpu, x.data(), dx.tensor().nbytes());
    device_copy(dev, dl.tensor().data, Device::cpu, labels.data(), dl.tensor().nbytes());
    Graph g(ex, arena);
    Var s = model.scores(g, state.params(), dx.tensor());
    Var loss = ops::cross_entropy(g, s, g.constant(dl.tensor()));
    float loss_host = 0.0f;
    device_copy(Device::cpu, &loss_host, dev, loss->value.data, sizeof(float));
    device_copy(Device::cpu, scores.data(), dev, s->value.data, s->value.nbytes());
    g.backward(loss);
    state.end_micro_batch();
    g.clear();
    const double lr = schedule.at(ts.step);
    const double norm = state.update(*reducer, static_cast<float>(lr), get<double>(vm, "clip"));
    ++ts.step;
    ts.consumed_samples += B;
    ts.elapsed_s += now_s() - t0;
    loss_sum += loss_host;
    for (int64_t b = 0; b < B; ++b)
      window_correct += argmax(scores.data() + b * (N - 1), N - 1) == labels[static_cast<size_t>(b)];
    ++window_steps;
    if (ts.step % log_every == 0 || ts.step == steps) {
      const double dt = now_s() - window_start, step_s = dt / static_cast<double>(window_steps);
      const double mean_loss = loss_sum / static_cast<double>(window_steps);
      const double acc = static_cast<double>(window_correct) / static_cast<double>(window_steps * B);
      std::string line = progress_line(ts.step, steps, mean_loss, lr, static_cast<double>(B) / step_s,
                                       step_s * static_cast<double>(steps - ts.step));
      const size_t tok = line.find("tok/s");  // samples, not tokens
      if (tok != std::string::npos) line.replace(tok, 5, "samples/s");
      char buf[48];
      std::snprintf(buf, sizeof buf, " | acc %.3f", acc);
      std::printf("%s%s\n", line.c_str(), buf);
      std::fflush(stdout);
      metrics.write(JsonLine()
                        .integer("step", ts.step)
                        .num("loss", loss_host)
                        .num("mean_loss", mean_loss)
                        .num("accuracy", acc)
                        .num("lr", lr)
                        .num("grad_norm", norm)
                        .integer("samples", ts.consumed_samples)
                        .num("elapsed_s", ts.elapsed_s));
      window_start = now_s();
      window_steps = window_correct = 0;
      loss_sum = 0.0;
    }
    if (eval_every > 0 && ts.step % eval_every == 0 && ts.step < steps) run_eval("periodic");
    if (save_every > 0 && ts.step % save_every == 0 && ts.step < steps) save();
  }
  save();
  run_eval("final");
  return 0;
}

int retrieval_eval_cosine(const po::variables_map& vm, const std::string& split) {
  if (vm.count("checkpoint"))
    throw UsageError("--cosine scores the embeddings without a retrieval model; drop --checkpoint " +
                     get<std::string>(vm, "checkpoint"));
  if (!vm.count("candidates")) throw UsageError("--cosine needs --candidates N (the query and N - 1 candidates)");
  const int64_t N = vm["candidates"].as<int64_t>();
  const double tau = get<double>(vm, "tau");
  if (!(tau > 0) || !std::isfinite(tau)) throw UsageError("--tau must be positive");
  const std::string emb_path = get<std::string>(vm, "embeddings");
  const Embeddings emb = read_embeddings(emb_path);
  RetrievalSampler sampler(emb, split == "val" ? 1 : 0, N, get<uint64_t>(vm, "seed"), false);
  const EvalResult r = evaluate_cosine(sampler, N, emb.dim, tau);
  std::printf("%s\n", JsonLine()
                          .num("accuracy", r.accuracy)
                          .num("loss", r.loss)
                          .integer("pairs", r.pairs)
                          .integer("candidates", N)
                          .num("chance", 1.0 / static_cast<double>(N - 1))
                          .str("split", split)
                          .str("scoring", "cosine")
                          .num("tau", tau)
                          .str("embeddings", emb_path)
                          .text()
                          .c_str());
  return 0;
}

int retrieval_eval(const std::vector<std::string>& args) {
  OptionSet set("retrieval eval");
  set.group("eval").add_options()
      ("checkpoint", po::value<std::string>(), "retrieval run folder (its latest) or checkpoint folder")
      ("embeddings", po::value<std::string>()->required(), "embeddings file of `weft embed` (its val pairs)")
      ("candidates", po::value<int64_t>(), "N (default: the checkpoint's; its mixing matrices fix it)")
      ("cosine", po::bool_switch(),
       "no retrieval model: the candidate with the highest cosine similarity to the query wins (embeddings of a "
       "model fine-tuned with `weft train --objective infonce`); needs --candidates, no --checkpoint")
      ("tau", real_value(0.02), "--cosine: the temperature of the reported loss, cross-entropy of cos / tau")
      ("split", po::value<std::string>()->default_value("val"), "val | train: the pool scored and sampled")
      ("seed", po::value<uint64_t>()->default_value(1234), "seed of the negatives")
      ("batch-size", po::value<int64_t>()->default_value(64), "samples per forward pass");
  add_runtime_options(set, "eval");
  po::variables_map vm = set.parse(args);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  const int64_t B = get<int64_t>(vm, "batch-size");
  if (B <= 0) throw UsageError("--batch-size must be positive");
  const std::string split = get<std::string>(vm, "split");
  if (split != "val" && split != "train") throw UsageError("--split must be val or train, got '" + split + "'");
  const Device dev = runtime_device(vm);
  if (get<bool>(vm, "cosine")) return retrieval_eval_cosine(vm, split);
  if (!vm.count("checkpoint"))
    throw UsageError("--checkpoint is required (a retrieval run), unless --cosine scores the embeddings directly");
  const std::string flag = get<std::string>(vm, "checkpoint");
  if (!std::filesystem::exists(flag)) throw UsageError("--checkpoint: '" + flag + "' does not exist");
  const std::string path = std::filesystem::is_directory(flag + "/checkpoints") ? resolve_checkpoint(flag, "latest", "--checkpoint") : flag;
  const std::string ini = read_checkpoint_meta(path).config_ini;
  const models::RetrievalConfig cfg = config_from_ini(ini);
  if (vm.count("candidates") && vm["candidates"].as<int64_t>() != cfg.slots)
    throw UsageError("--candidates " + std::to_string(vm["candidates"].as<int64_t>()) + ": the retrieval model " + path +
                     " mixes exactly " + std::to_string(cfg.slots) + " slots (its N x N matrices); train one with "
                     "--candidates " + std::to_string(vm["candidates"].as<int64_t>()) + " to evaluate at that N");
  const std::string emb_path = get<std::string>(vm, "embeddings");
  const Embeddings emb = read_embeddings(emb_path);
  check_embeddings_match(ini, path, emb, emb_path);
  RetrievalSampler sampler(emb, split == "val" ? 1 : 0, cfg.slots, get<uint64_t>(vm, "seed"), false);
  models::RetrievalMixer model(cfg);
  ExecContext exec(dev, 0, get<int>(vm, "threads"));
  EvalResult r;
  {
    TrainableState state(model, exec.get(), DType::f32);
    state.load(path, nullptr);
    r = evaluate(model, state.params(), exec.get(), sampler, B);
  }
  std::printf("%s\n", JsonLine()
                          .num("accuracy", r.accuracy)
                          .num("loss", r.loss)
                          .integer("pairs", r.pairs)
                          .integer("candidates", cfg.slots)
                          .num("chance", 1.0 / static_cast<double>(cfg.slots - 1))
                          .str("split", split)
                          .str("checkpoint", path)
                          .text()
                          .c_str());
  return 0;
}

}  // namespace

int cmd_retrieval(const std::vector<std::string>& args) {
  const std::string usage = "usage: weft retrieval train|eval [flags]   (weft retrieval train --help for the flags)";
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::printf("%s\n", usage.c_str());
    return args.empty() ? 2 : 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "train") return retrieval_train(rest);
  if (args[0] == "eval") return retrieval_eval(rest);
  throw UsageError("unknown retrieval command '" + args[0] + "' (" + usage + ")");
}

}  // namespace weft::launch
