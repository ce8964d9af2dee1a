// weft train: builds the model from [model] flags (or from the checkpoint when resuming), prints and
// saves the effective configuration, and runs the Trainer.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/split.h"
#include "data/tokenizer.h"
#include "launch/commands.h"
#include "launch/init_from.h"
#include "launch/model_options.h"
#include "launch/session.h"
#include "launch/signals.h"
#include "launch/tokenizer_check.h"
#include "launch/train_options.h"
#include "launch/trainer.h"
#include "runtime/cpu_gemm.h"

namespace weft::launch {

namespace {

// When resuming, model flags not given on the command line come from the checkpoint; given ones must
// agree with it. vm's [model] group is already that of the checkpoint's family.
void merge_model_config(po::variables_map& vm, const std::string& stored_ini, const std::string& path) {
  OptionSet model_only("train");
  add_model_options(model_only, get<std::string>(vm, "model"));
  for (const auto& [key, stored] : ini_section(stored_ini, "model")) {
    if (!vm.count(key)) continue;
    std::string current = value_to_string(vm[key]);
    if (current == stored) continue;
    if (!vm[key].defaulted())
      throw UsageError("--" + key + " " + current + " contradicts the checkpoint " + path + " (" + key + " = " +
                       stored + ")");
    po::variables_map one = model_only.parse({"--" + key + "=" + stored});
    vm.at(key).value() = one[key].value();
  }
}

// [data] pack when resuming: not given, the checkpoint's (concat when it predates --pack); given, it must
// agree with it (another packing would continue the run on other samples from the same cursor).
void merge_pack(po::variables_map& vm, const std::string& stored_ini, const std::string& path) {
  auto data = ini_section(stored_ini, "data");
  const std::string stored = data.count("pack") ? data["pack"] : "concat";
  const std::string current = get<std::string>(vm, "pack");
  if (current == stored) return;
  if (!vm["pack"].defaulted())
    throw UsageError("--pack " + current + " contradicts the checkpoint " + path + " (pack = " + stored + ")");
  vm.at("pack").value() = boost::any(stored);
}

// --out: created and writable before anything else happens (exit 2 naming the flag, not a filesystem error later).
void ensure_run_folder(const std::string& out) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) throw UsageError("--out " + out + ": cannot create the run folder (" + ec.message() + ")");
  const std::string probe = out + "/.weft_write_probe";
  std::FILE* f = std::fopen(probe.c_str(), "w");
  if (!f) throw UsageError("--out " + out + ": the run folder is not writable (" + std::strerror(errno) + ")");
  std::fclose(f);
  std::filesystem::remove(probe, ec);
}

// config.ini replaced whole or not at all: a full disk is an error naming the file, never a 0-byte config.
void write_config(const std::string& out, const std::string& ini) {
  const std::string path = out + "/config.ini", tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << ini;
    f.close();
    if (!f.good()) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      WEFT_FAIL("writing '", path, "' failed (disk full?); nothing was trained");
    }
  }
  std::filesystem::rename(tmp, path);
}

// Resuming with another global batch (ranks x --batch-size x --grad-accum): allowed, and said how it continues.
void note_global_batch(const po::variables_map& vm, const std::string& stored_ini, int stored_world, int world,
                       const std::string& path) {
  auto train = ini_section(stored_ini, "train");
  if (!train.count("batch-size") || !train.count("grad-accum")) return;
  const int64_t before = std::stoll(train["batch-size"]) * std::stoll(train["grad-accum"]) * stored_world;
  const int64_t now = get<int64_t>(vm, "batch-size") * get<int64_t>(vm, "grad-accum") * world;
  if (before == now) return;
  std::printf("note: the global batch changes from %lld sequences (%d ranks in %s) to %lld: the data continues "
              "from the checkpoint's sample cursor (no sample repeated or skipped), steps from here count batches of "
              "the new size, and the learning-rate schedule continues by step\n",
              static_cast<long long>(before), stored_world, path.c_str(), static_cast<long long>(now));
}

// --vocab-size against the tokenizer of --data: smaller cannot hold its ids (exit 2); larger adds ids no token
// uses (a note); 0 takes the tokenizer's.
void check_vocab_size(const po::variables_map& vm, const data::Tokenizer& tok, const std::string& data, bool note) {
  const int64_t given = get<int64_t>(vm, "vocab-size"), needed = tok.vocab_size();
  if (given == 0 || given == needed) return;
  if (given < needed)
    throw UsageError("--vocab-size " + std::to_string(given) + " is smaller than the " + std::to_string(needed) +
                     " ids of the " + tok.name() + " tokenizer of --data " + data +
                     " (leave --vocab-size out to take the tokenizer's)");
  if (note)
    std::printf("note: --vocab-size %lld exceeds the %lld ids of the %s tokenizer of --data %s: %lld ids no token "
                "uses, whose embedding and output rows cost memory and time (leave --vocab-size out to take the "
                "tokenizer's)\n",
                static_cast<long long>(given), static_cast<long long>(needed), tok.name().c_str(), data.c_str(),
                static_cast<long long>(given - needed));
}

}  // namespace

int cmd_train(const std::vector<std::string>& args) {
  auto make_set = [](const std::string& family) {
    auto set = std::make_unique<OptionSet>("train");
    add_model_options(*set, family);
    add_train_options(*set);
    return set;
  };
  std::unique_ptr<OptionSet> set = make_set(chosen_model(args));
  po::variables_map vm = parse_model_args(*set, args, chosen_model(args));
  if (vm.count("help")) {
    std::printf("%s", set->help().c_str());
    std::printf("\n[model] lists the flags of --model %s; `weft train --model NAME --help` those of another.\n",
                get<std::string>(vm, "model").c_str());
    return 0;
  }
  Session session = start_session();
  return run_ranked(session, [&]() -> int {
    par::Communicator& comm = *session.comm;
    // The run's configuration names its data folder absolutely, so eval, sample and the export check find
    // it from anywhere.
    for (const char* flag : {"data", "pairs"}) {  // --pairs: --objective infonce's pairs file
      const std::string path = get<std::string>(vm, flag);
      if (!path.empty() && std::filesystem::path(path).is_relative())
        vm.at(flag).value() = boost::any(std::filesystem::absolute(path).lexically_normal().string());
    }
    TrainOptions opt = train_options(vm);
    session.watchdog->set_timeout(opt.collective_timeout);
    opt.threads = resolve_threads(session, opt.threads);
    if (comm.rank() == 0) ensure_run_folder(opt.out);
    // The checkpoint to continue from (rank 0 examines the folder; launch/resume.h): the newest that verifies.
    const std::string resume = prepare_resume(opt.out, opt.resume, opt.restart, comm);
    data::TokenizerIdentity resumed_tokenizer;  // the checkpoint's record, checked against --data below
    if (!resume.empty()) {
      const CheckpointMeta stored_meta = read_checkpoint_meta(resume);
      resumed_tokenizer = stored_meta.tokenizer;
      const std::string& stored_ini = stored_meta.config_ini;
      if (comm.rank() == 0) note_global_batch(vm, stored_ini, stored_meta.world_size, comm.size(), resume);
      auto stored = ini_section(stored_ini, "model");
      const std::string stored_model = stored.count("model") ? stored["model"] : chosen_model({});
      if (stored_model != get<std::string>(vm, "model")) {  // flags of the checkpoint's family
        if (!vm["model"].defaulted())
          throw UsageError("--model " + get<std::string>(vm, "model") + " contradicts the checkpoint " + resume +
                           " (model = " + stored_model + ")");
        std::vector<std::string> with_model = args;
        with_model.push_back("--model=" + stored_model);
        set = make_set(stored_model);
        vm = parse_model_args(*set, with_model, stored_model);
      }
      merge_model_config(vm, stored_ini, resume);
      merge_pack(vm, stored_ini, resume);
      opt.pack = parse_packing(get<std::string>(vm, "pack"));
    }
    // --init-from: a fresh run only; a run without a checkpoint is an error naming the flag (before any work).
    const std::string init_path = resume.empty() && !opt.init_from.empty() ? resolve_init_from(opt.init_from) : "";
    auto tok = data::load_tokenizer(opt.data);
    if (!resume.empty()) check_tokenizer_identity(resumed_tokenizer, resume, *tok, opt.data, "--data", comm.rank() == 0);
    check_vocab_size(vm, *tok, opt.data, comm.rank() == 0);
    if (get<int64_t>(vm, "vocab-size") == 0) vm.at("vocab-size").value() = boost::any(tok->vocab_size());
    if (comm.rank() == 0 && opt.eval_batches > 0 && data::split_files(opt.data, "val").empty())
      std::printf("note: --data %s has no val split (val.bin): training runs without validation (no val_loss); "
                  "`weft prepare --val-fraction F` (default 0.05) writes one\n", opt.data.c_str());
    auto model = make_model(vm);
    const std::string ini = set->effective_ini(vm);
    const std::string layout = comm.size() > 1 ? par::describe_layout(comm, session.launch) : "";
    if (comm.rank() == 0) {
      std::printf("weft %s | %s\n", weft_version().c_str(), session.launch.describe().c_str());
      if (session.launch.gpu < 0) std::printf("CPU f32 GEMMs: %s\n", cpu_gemm_description(cpu_gemm()).c_str());
      if (!layout.empty()) std::printf("%s\n", layout.c_str());
      std::printf("effective configuration:\n%s", ini.c_str());
      write_config(opt.out, ini);
    }
    CheckpointMeta meta{get<std::string>(vm, "model"), ini, weft_version(), comm.size()};
    meta.tokenizer = data::tokenizer_identity(*tok);
    Trainer trainer(opt, std::move(model), get<int64_t>(vm, "seq-len"), meta, comm, std::max(session.launch.gpu, 0));
    if (!resume.empty()) trainer.resume_from(resume);
    if (!init_path.empty()) trainer.init_from(init_path);
    else if (!opt.init_from.empty() && comm.rank() == 0)
      std::printf("note: --init-from %s ignored: the run resumes from its own checkpoint\n", opt.init_from.c_str());
    install_stop_handlers();
    double val = trainer.run();
    if (trainer.stopped()) return kExitStopped;
    if (trainer.gave_up()) return kExitSkippedSteps;  // saved after --max-skipped-steps skips (launch/step_guard.h)
    if (comm.rank() == 0 && std::isfinite(val))
      std::printf("final val_loss %.4f (the first %lld validation batches, as during training; `weft eval` scores the "
                  "whole split)\n", val, static_cast<long long>(opt.eval_batches));
    return 0;
  });
}

}  // namespace weft::launch
