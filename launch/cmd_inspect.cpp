// weft inspect PATH: a checkpoint's step, tokens seen, configuration and a table of its tensors
// (name, shape, dtype, L2 norm). PATH is a checkpoint folder or a run folder (its latest checkpoint). Tensors
// of an expert-parallel checkpoint are shown whole, assembled from its expert shard files.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "launch/checkpoint.h"
#include "launch/commands.h"
#include "launch/options.h"
#include "runtime/checkpoint/reader.h"

namespace weft::launch {

namespace {
double l2_norm(const ckpt::CheckpointReader& f, const std::string& name) {
  DType dt = f.dtype_of(name);
  Shape s = f.shape_of(name);
  std::vector<char> raw(s.numel() * dtype_size(dt));
  f.read(name, dt, s, raw.data());
  double ss = 0;
  for (int64_t i = 0; i < s.numel(); ++i) {
    double v = dt == DType::f32    ? reinterpret_cast<float*>(raw.data())[i]
               : dt == DType::f64  ? reinterpret_cast<double*>(raw.data())[i]
               : dt == DType::bf16 ? reinterpret_cast<bf16*>(raw.data())[i].to_float()
               : dt == DType::i32  ? reinterpret_cast<int32_t*>(raw.data())[i]
                                   : static_cast<double>(reinterpret_cast<int64_t*>(raw.data())[i]);
    ss += v * v;
  }
  return std::sqrt(ss);
}
}  // namespace

int cmd_inspect(const std::vector<std::string>& args) {
  OptionSet set("inspect");
  set.group("inspect").add_options()("path", po::value<std::string>()->required(), "checkpoint or run folder");
  std::vector<std::string> a = args;
  if (!a.empty() && a[0].rfind("--", 0) != 0) a[0] = "--path=" + a[0];
  po::variables_map vm = set.parse(a);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  std::string path = get<std::string>(vm, "path");
  if (std::filesystem::is_directory(path + "/checkpoints")) path = resolve_checkpoint(path, "latest", "path");
  const ckpt::CheckpointReader r(path);  // verified against manifest.txt, shard files included
  const ckpt::H5File& f = r.main();
  std::printf("checkpoint %s (verified against manifest.txt)\n", path.c_str());
  if (r.shard_files())
    std::printf("expert shard files: %d (%s .. %s), expert tensors assembled from them\n", r.shard_files(),
                ckpt::expert_shard_file(0).c_str(), ckpt::expert_shard_file(r.shard_files() - 1).c_str());
  // best_val_loss starts at 1e300 (no validation yet); perplexity in %g so a diverged run stays one short field.
  const double best = f.attr_double("best_val_loss");
  char best_text[96] = "best val loss - (no validation yet)";
  if (std::isfinite(best) && best < 1e299)
    std::snprintf(best_text, sizeof best_text, "best val loss %.4f (ppl %.4g)", best, std::exp(best));
  std::printf("model %s | step %lld | tokens seen %lld | samples consumed %lld | %s | weft %s\n",
              f.attr_string("model").c_str(), (long long)f.attr_int("step"), (long long)f.attr_int("tokens_seen"),
              (long long)f.attr_int("consumed_samples"), best_text, f.attr_string("weft_version").c_str());
  if (f.has_attr("tokenizer_kind"))  // the identity eval, sample and --resume check a data folder against
    std::printf("tokenizer %s | %lld pieces | hash %s\n", f.attr_string("tokenizer_kind").c_str(),
                (long long)f.attr_int("tokenizer_vocab_size"), f.attr_string("tokenizer_hash").c_str());
  else
    std::printf("tokenizer not recorded (a checkpoint of an older weft)\n");
  std::printf("\nconfiguration:\n%s\n", f.attr_string("config").c_str());
  std::printf("%-44s %-16s %-5s %12s\n", "tensor", "shape", "dtype", "L2 norm");
  for (const std::string& name : r.dataset_names())
    std::printf("%-44s %-16s %-5s %12.5g\n", name.c_str(), r.shape_of(name).str().c_str(),
                std::string(dtype_name(r.dtype_of(name))).c_str(), l2_norm(r, name));
  return 0;
}

}  // namespace weft::launch
