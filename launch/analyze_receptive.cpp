// Empirical receptive field (launch/analyze_receptive.h): the val windows, the gradient profile of the last
// position's loss in the "embed" tap, the curve C(k), and the command `weft analyze receptive-field`, which
// deals fixed global batches of windows to ranks (batch k to rank k mod world), all-reduces the per-window
// g^ rows in fp64 (each row comes from one rank, the others add exact zeros) and sums them in window order on
// rank 0, so 1 and N ranks write the same numbers. Only rank 0 prints and writes.
#include "launch/analyze_receptive.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "data/split.h"
#include "launch/eval_lengths.h"  // parse_lengths
#include "launch/host_values.h"
#include "launch/inference_model.h"
#include "launch/metrics.h"  // JsonLine
#include "launch/options.h"
#include "launch/session.h"
#include "launch/svg_plot.h"
#include "launch/tokenizer_check.h"
#include "launch/train_options.h"
#include "runtime/checkpoint/h5.h"
#include "runtime/checkpoint/reader.h"
#include "runtime/rng.h"

namespace weft::launch {

namespace fs = std::filesystem;

ValWindows draw_val_windows(const std::vector<std::shared_ptr<const data::Shard>>& shards, int64_t L, int64_t S,
                            uint64_t seed) {
  WEFT_CHECK(L > 0 && S > 0, "[receptive] window length and count must be positive, got ", L, " and ", S);
  std::vector<int64_t> shard_begin;  // [shard] first token of each shard in the concatenated stream
  int64_t total = 0;
  for (const auto& s : shards) {
    shard_begin.push_back(total);
    total += s->size();
  }
  ValWindows w;
  w.length = L;
  const int64_t available = total / (L + 1);
  if (available == 0) return w;
  std::vector<int64_t> order(static_cast<size_t>(available));
  std::iota(order.begin(), order.end(), int64_t{0});
  const int64_t drawn = std::min(S, available);
  Rng rng(seed, 0);
  for (int64_t i = 0; i < drawn; ++i) {  // the first `drawn` steps of a Fisher-Yates shuffle
    const int64_t j = i + static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(available - i));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  w.ids.resize(static_cast<size_t>(drawn * (L + 1)));
  for (int64_t k = 0; k < drawn; ++k) {
    const int64_t start = order[static_cast<size_t>(k)] * (L + 1);
    w.starts.push_back(start);
    size_t s = static_cast<size_t>(std::upper_bound(shard_begin.begin(), shard_begin.end(), start) -
                                   shard_begin.begin()) - 1;  // the shard holding the window's first token
    for (int64_t t = 0; t <= L; ++t) {
      while (start + t >= shard_begin[s] + shards[s]->size()) ++s;  // the window runs on into the next shard
      w.ids[static_cast<size_t>(k * (L + 1) + t)] = shards[s]->at(start + t - shard_begin[s]);
    }
  }
  return w;
}

namespace {

// Unsets the model's taps however the forward ends.
struct TapsGuard {
  models::Model& model;
  TapsGuard(models::Model& m, models::Taps& taps) : model(m) { model.set_taps(&taps); }
  ~TapsGuard() { model.set_taps(nullptr); }
};

std::vector<double> download(const Tensor& t) { return host_doubles(t, "receptive"); }

}  // namespace

std::vector<double> last_position_gradient_profile(models::Model& model, ParamStore& store, Exec& ex,
                                                   const std::vector<int32_t>& windows, int64_t B, int64_t L) {
  WEFT_CHECK(B > 0 && L > 0 && windows.size() == static_cast<size_t>(B * (L + 1)), "[receptive] windows must be (",
             B, ", ", L + 1, "), got ", windows.size(), " ids");
  constexpr int32_t kIgnore = -100;
  std::vector<int32_t> inputs(static_cast<size_t>(B * L)), targets(static_cast<size_t>(B * L), kIgnore);
  for (int64_t b = 0; b < B; ++b) {
    std::copy_n(windows.begin() + b * (L + 1), L, inputs.begin() + b * L);
    targets[static_cast<size_t>(b * L + L - 1)] = windows[static_cast<size_t>(b * (L + 1) + L)];  // t_L
  }
  OwnedTensor in(DType::i32, {B, L}, ex.device), tg(DType::i32, {B, L}, ex.device);  // (B, L)
  device_copy(ex.device, in.tensor().data, Device::cpu, inputs.data(), inputs.size() * sizeof(int32_t));
  device_copy(ex.device, tg.tensor().data, Device::cpu, targets.data(), targets.size() * sizeof(int32_t));

  Arena arena(ex.device);
  Graph g(ex, arena);
  models::Taps taps({"embed"});
  std::vector<double> grad;  // (B, L, C)
  {
    TapsGuard guard(model, taps);
    Var logits = model.logits(g, store, in.tensor());  // (B, L, V), evaluation mode
    Var x = taps.find("embed");                        // (B, L, C)
    if (!x)
      throw UsageError("model '" + model.name() + "' offers no \"embed\" tap (the input of its first layer)");
    WEFT_CHECK(x->value.shape.rank == 3 && x->value.shape[0] == B && x->value.shape[1] == L, "[receptive] model '",
               model.name(), "': the \"embed\" tap is ", x->value.str(), ", not (", B, ", ", L, ", C)");
    // The sum over windows of the last position's NLL (normalizer 1): each window's gradient is its own.
    const int64_t V = logits->value.shape[2];
    Var loss = ops::cross_entropy(g, ops::reshape(g, logits, {B * L, V}), g.constant(tg.tensor().reshape({B * L})),
                                  kIgnore, 1.0f);
    g.backward(loss);
    grad = x->grad.defined() ? download(x->grad) : std::vector<double>(static_cast<size_t>(x->value.numel()), 0.0);
  }
  g.clear();
  store.zero_grads();  // nothing is trained: drop the parameter gradients the backward accumulated

  const int64_t C = static_cast<int64_t>(grad.size()) / (B * L);
  std::vector<double> profile(static_cast<size_t>(B * L));  // (B, L)
  for (int64_t b = 0; b < B; ++b) {
    double sum = 0.0;
    for (int64_t j = 0; j < L; ++j) {
      const double* v = grad.data() + (b * L + j) * C;
      double sq = 0.0;
      for (int64_t c = 0; c < C; ++c) sq += v[c] * v[c];
      profile[static_cast<size_t>(b * L + j)] = std::sqrt(sq);
      sum += profile[static_cast<size_t>(b * L + j)];
    }
    WEFT_CHECK(sum > 0.0 && std::isfinite(sum), "[receptive] model '", model.name(), "': the gradient of window ", b,
               "'s last-position loss in the \"embed\" tap is ", sum > 0.0 ? "not finite" : "zero everywhere");
    for (int64_t j = 0; j < L; ++j) profile[static_cast<size_t>(b * L + j)] /= sum;
  }
  return profile;
}

ReceptiveCurve receptive_curve(const std::vector<double>& per_window, int64_t S, int64_t L, double threshold) {
  WEFT_CHECK(S > 0 && L > 0 && per_window.size() == static_cast<size_t>(S * L), "[receptive] per-window profiles "
             "must be (", S, ", ", L, "), got ", per_window.size(), " values");
  ReceptiveCurve c;
  c.g_hat.assign(static_cast<size_t>(L), 0.0);
  for (int64_t s = 0; s < S; ++s)  // window order: the same sums on any rank count
    for (int64_t j = 0; j < L; ++j) c.g_hat[static_cast<size_t>(j)] += per_window[static_cast<size_t>(s * L + j)];
  for (double& v : c.g_hat) v /= static_cast<double>(S);
  c.cumulative.resize(static_cast<size_t>(L));
  double acc = 0.0;
  for (int64_t k = 1; k <= L; ++k) {
    acc += c.g_hat[static_cast<size_t>(L - k)];
    c.cumulative[static_cast<size_t>(k - 1)] = acc;
    if (c.receptive_field == 0 && acc >= threshold) c.receptive_field = k;
  }
  if (c.receptive_field == 0) c.receptive_field = L;  // C(L) = 1 up to rounding
  return c;
}

namespace {

struct LengthResult {
  int64_t length = 0, sequences = 0;
  std::vector<int64_t> starts;
  ReceptiveCurve curve;
};

void write_results(const std::string& path, const std::vector<LengthResult>& results, const InferenceModel& m,
                   int64_t step, double threshold, uint64_t seed, const std::string& data_dir) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  const std::string tmp = path + ".tmp";
  {
    ckpt::H5File f = ckpt::H5File::create(tmp);
    f.set_attr("checkpoint", fs::absolute(m.path).lexically_normal().string());
    f.set_attr("step", step);
    f.set_attr("model", m.meta.model);
    f.set_attr("data", data_dir);
    f.set_attr("threshold", threshold);
    f.set_attr("seed", static_cast<int64_t>(seed));
    for (const LengthResult& r : results) {
      const std::string group = "length_" + std::to_string(r.length);
      f.write(group + "/g_hat", DType::f64, {r.length}, r.curve.g_hat.data());
      f.write(group + "/cumulative", DType::f64, {r.length}, r.curve.cumulative.data());
      f.write(group + "/window_starts", DType::i64, {r.sequences}, r.starts.data());
      f.set_object_attr(group, "sequences", r.sequences);
      f.set_object_attr(group, "receptive_field", r.curve.receptive_field);
      f.set_object_attr(group, "threshold", threshold);
    }
    f.close();
  }
  fs::rename(tmp, path);
}

}  // namespace

int analyze_receptive_field(const std::vector<std::string>& args) {
  OptionSet set("analyze receptive-field");
  set.group("receptive-field").add_options()
      ("checkpoint", po::value<std::string>()->required(), "checkpoint folder, or a run folder (its latest)")
      ("lengths", po::value<std::string>()->required(), "window lengths L, comma-separated (128,256,512)")
      ("out", po::value<std::string>()->required(), "HDF5 file to write (/length_<L>/g_hat, cumulative)")
      ("sequences", po::value<int64_t>()->default_value(32), "windows S per length")
      ("threshold", real_value(0.99), "receptive field: the smallest k with C(k) >= this")
      ("data", po::value<std::string>()->default_value(""), "data folder (default: the one trained on)")
      ("seed", po::value<uint64_t>()->default_value(1), "window draw")
      ("plot", po::value<std::string>()->default_value(""), "also write C(k) against k (log k) as an SVG")
      ("batch-size", po::value<int64_t>()->default_value(4), "windows per forward pass")
      ("device", po::value<std::string>()->default_value("auto"), "cpu | cuda | auto (cuda when a GPU is visible)")
      ("threads", po::value<int>()->default_value(0), "CPU threads per rank (0: all)");
  po::variables_map vm = set.parse(args);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  const std::vector<int64_t> lengths = parse_lengths(get<std::string>(vm, "lengths"));
  const int64_t S = get<int64_t>(vm, "sequences"), batch = get<int64_t>(vm, "batch-size");
  const double threshold = get<double>(vm, "threshold");
  const uint64_t seed = get<uint64_t>(vm, "seed");
  const int threads = get<int>(vm, "threads");
  const std::string device = get<std::string>(vm, "device"), out = get<std::string>(vm, "out"),
                    plot = get<std::string>(vm, "plot"), checkpoint = get<std::string>(vm, "checkpoint");
  if (S <= 0) throw UsageError("--sequences must be positive, got " + std::to_string(S));
  if (batch <= 0) throw UsageError("--batch-size must be positive, got " + std::to_string(batch));
  if (!(threshold > 0.0 && threshold <= 1.0)) throw UsageError("--threshold must be in (0, 1]");
  if (threads < 0) throw UsageError("--threads must be >= 0");
  if (device != "cpu" && device != "cuda" && device != "auto")
    throw UsageError("--device must be cpu, cuda or auto, got '" + device + "'");
  if (out.empty()) throw UsageError("--out: no file named");
  if (!fs::exists(checkpoint)) throw UsageError("--checkpoint: '" + checkpoint + "' does not exist");

  Session session = start_session();
  return run_ranked(session, [&]() -> int {
    par::Communicator& comm = *session.comm;
    const int world = comm.size(), rank = comm.rank();
    InferenceModel m;
    load_inference_model(m, checkpoint, resolve_device(device), std::max(session.launch.gpu, 0), threads);
    const int64_t step = ckpt::H5File::open_read(m.path + "/" + ckpt::kMainFile).attr_int("step");
    std::string data_dir;  // --data, else the folder trained on; its tokenizer must be the checkpoint's
    load_checked_tokenizer(m.meta, m.path, get<std::string>(vm, "data"), m.data_dir, data_dir, rank == 0);
    const auto shards = data::open_split(data_dir, "val", m.model->vocab_size());
    std::vector<LengthResult> results;
    int failed = 0;  // lengths refused (the same on every rank: no collective is skipped on one rank only)
    for (const int64_t L : lengths) {
      if (L > m.model->max_seq_len()) {
        if (rank == 0)
          std::fprintf(stderr, "length %lld: model '%s' supports sequences of at most %lld tokens; skipped\n",
                       static_cast<long long>(L), m.model->name().c_str(),
                       static_cast<long long>(m.model->max_seq_len()));
        ++failed;
        continue;
      }
      const ValWindows w = draw_val_windows(shards, L, S, seed);
      if (w.count() == 0) {
        if (rank == 0)
          std::fprintf(stderr, "length %lld: the val split of %s holds no window of %lld tokens; skipped\n",
                       static_cast<long long>(L), data_dir.c_str(), static_cast<long long>(L + 1));
        ++failed;
        continue;
      }
      if (w.count() < S && rank == 0)
        std::fprintf(stderr, "note: length %lld: the val split holds %lld windows; using all of them\n",
                     static_cast<long long>(L), static_cast<long long>(w.count()));
      const int64_t n = w.count();
      std::vector<double> per_window(static_cast<size_t>(n * L), 0.0);  // (S, L): this rank's rows, zeros elsewhere
      for (int64_t first = 0, k = 0; first < n; first += batch, ++k) {
        if (k % world != rank) continue;
        const int64_t B = std::min(batch, n - first);
        const std::vector<int32_t> ids(w.ids.begin() + first * (L + 1), w.ids.begin() + (first + B) * (L + 1));
        const std::vector<double> p = last_position_gradient_profile(*m.model, m.params(), m.ex(), ids, B, L);
        std::copy(p.begin(), p.end(), per_window.begin() + first * L);
      }
      comm.all_reduce(per_window.data(), n * L, DType::f64, par::ReduceOp::sum);  // x + 0 is exact
      if (rank != 0) continue;
      LengthResult r{L, n, w.starts, receptive_curve(per_window, n, L, threshold)};
      std::printf("%s\n", JsonLine()
                              .integer("length", L)
                              .integer("receptive_field", r.curve.receptive_field)
                              .integer("sequences", n)
                              .num("threshold", threshold)
                              .num("g_hat_last", r.curve.g_hat.back())
                              .num("c_half", r.curve.cumulative[static_cast<size_t>((L + 1) / 2 - 1)])
                              .integer("step", step)
                              .str("model", m.model->name())
                              .text()
                              .c_str());
      std::fflush(stdout);
      results.push_back(std::move(r));
    }
    if (rank == 0) {
      write_results(out, results, m, step, threshold, seed, data_dir);
      if (!plot.empty() && !results.empty()) {  // C(k) against k, log10 k; a PNG next to it where a converter exists
        SvgChart chart("receptive field: " + m.model->name() + " step " + std::to_string(step),
                       Axis{Scale::log10, "k (positions back from the last)", {}}, Axis{Scale::linear, "C(k)", {}});
        for (size_t i = 0; i < results.size(); ++i) {
          Series s{"L = " + std::to_string(results[i].length), series_color(i), {}};
          for (int64_t k = 1; k <= results[i].length; ++k)
            s.points.emplace_back(static_cast<double>(k), results[i].curve.cumulative[static_cast<size_t>(k - 1)]);
          chart.add_series(std::move(s));
        }
        write_svg_with_png(chart.render(), plot, true);
      }
    }
    return failed > 0 ? 2 : 0;
  });
}

}  // namespace weft::launch
