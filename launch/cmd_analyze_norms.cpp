// weft analyze norms: token-representation norms of checkpoints (launch/analyze_norms.h, spec token-norms.md
// D.3) into one HDF5 file (launch/norms_file.h), one JSON line per checkpoint on stdout, SVG plots with
// --plot-dir (launch/norms_plots.h). The held-out batch is drawn once (val split windows, --seed) and stored
// as /eval_ids, so every checkpoint of a run is measured on the same tokens. Under mpirun rank 0 measures and
// writes (the checkpoint's whole model, expert tensors assembled), the other ranks wait: any rank count gives
// the same file.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "launch/analyze_norms.h"
#include "launch/commands.h"
#include "launch/inference_model.h"
#include "launch/norms_file.h"
#include "launch/norms_plots.h"
#include "launch/options.h"
#include "launch/session.h"
#include "launch/tokenizer_check.h"
#include "launch/train_options.h"

namespace weft::launch {

namespace fs = std::filesystem;

int analyze_norms(const std::vector<std::string>& args) {
  OptionSet set("analyze norms");
  set.group("norms").add_options()
      ("checkpoint", po::value<std::string>()->required(), "checkpoint folder, or a run folder (its latest)")
      ("out", po::value<std::string>()->required(), "the HDF5 file to write (replaced)")
      ("all-checkpoints", po::bool_switch(), "every checkpoint of the run folder, in step order")
      ("batch-size", po::value<int64_t>()->default_value(8), "held-out windows B")
      ("seq-len", po::value<int64_t>()->default_value(0), "window length T (0: the training length L)")
      ("seed", po::value<uint64_t>()->default_value(1), "the draw of the held-out windows")
      ("data", po::value<std::string>()->default_value(""), "data folder (default: the one trained on)")
      ("plot-dir", po::value<std::string>()->default_value(""), "also draw SVG (and PNG) plots into this folder")
      ("device", po::value<std::string>()->default_value("auto"), "cpu | cuda | auto (cuda when a GPU is visible)")
      ("threads", po::value<int>()->default_value(0), "CPU threads (0: all)");
  po::variables_map vm = set.parse(args);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  const int64_t B = get<int64_t>(vm, "batch-size"), seq_len = get<int64_t>(vm, "seq-len");
  const uint64_t seed = get<uint64_t>(vm, "seed");
  const int threads = get<int>(vm, "threads");
  const std::string device = get<std::string>(vm, "device"), out = get<std::string>(vm, "out"),
                    plot_dir = get<std::string>(vm, "plot-dir");
  if (B <= 0) throw UsageError("--batch-size must be positive");
  if (seq_len < 0) throw UsageError("--seq-len must be >= 0");
  if (threads < 0) throw UsageError("--threads must be >= 0");
  if (device != "cpu" && device != "cuda" && device != "auto")
    throw UsageError("--device must be cpu, cuda or auto, got '" + device + "'");
  if (out.empty()) throw UsageError("--out: give the HDF5 file to write");
  const fs::path out_dir = fs::path(out).parent_path();
  if (!out_dir.empty() && !fs::is_directory(out_dir))
    throw UsageError("--out: folder '" + out_dir.string() + "' does not exist");
  const std::vector<std::string> paths =
      checkpoints_to_analyze(get<std::string>(vm, "checkpoint"), vm["all-checkpoints"].as<bool>());

  Session session = start_session();
  return run_ranked(session, [&]() -> int {
    if (session.comm->rank() != 0) {  // rank 0 measures the whole batch; the result does not depend on ranks
      session.comm->barrier();
      return 0;
    }
    NormBatch batch;
    std::vector<int64_t> counts;
    std::vector<NormsSeries> series;
    for (const std::string& path : paths) {
      InferenceModel m;
      load_inference_model(m, path, resolve_device(device), std::max(session.launch.gpu, 0), threads);
      if (batch.ids.empty()) {  // once: every checkpoint of a run has the same data and L
        std::string dir;  // --data, else the folder trained on; its tokenizer must be the checkpoint's
        load_checked_tokenizer(m.meta, m.path, get<std::string>(vm, "data"), m.data_dir, dir, true);
        const int64_t T = seq_len > 0 ? seq_len : m.seq_len;
        if (T > m.model->max_seq_len())
          throw UsageError("--seq-len " + std::to_string(T) + ": model '" + m.model->name() +
                           "' supports sequences of at most " + std::to_string(m.model->max_seq_len()) + " tokens");
        batch = norm_eval_batch(dir, m.model->vocab_size(), B, T, seed);
        counts = token_counts(dir, m.model->vocab_size());
        open_norms_file(out, NormsFileHeader{m.model->name(), seed, &batch, &counts}, true);
      }
      Arena arena(m.ex().device);
      const NormDiagnostics d = measure_norms(*m.model, m.params(), m.ex(), arena, batch, counts,
                                              attention_bias_of(m.model->name(), m.meta.config_ini, batch.T));
      const int64_t step = checkpoint_step_of(m.path);
      write_norms_step(out, step, d);
      std::printf("%s\n", norms_json_line(step, d, m.model->name()).c_str());
      std::fflush(stdout);
      series.push_back({step, d});
    }
    if (!plot_dir.empty()) {
      fs::create_directories(plot_dir);
      write_norms_plots(series, counts, plot_dir);
      std::fprintf(stderr, "plots in %s\n", plot_dir.c_str());
    }
    session.comm->barrier();
    return 0;
  });
}

}  // namespace weft::launch
