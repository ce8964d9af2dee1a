// weft inspect PATH: a checkpoint's step, tokens seen, configuration and a table of its tensors
// (name, shape, dtype, L2 norm). PATH is a checkpoint folder or a run folder (its latest checkpoint).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "launch/checkpoint.h"
#include "launch/commands.h"
#include "launch/options.h"
#include "runtime/checkpoint/h5.h"
#include "runtime/checkpoint/manifest.h"

namespace weft::launch {

namespace {
double l2_norm(const ckpt::H5File& f, const std::string& name) {
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
  if (std::filesystem::is_directory(path + "/checkpoints")) path = resolve_checkpoint(path, "latest");
  ckpt::verify_checkpoint(path);
  ckpt::H5File f = ckpt::H5File::open_read(path + "/rank_00000.h5");
  std::printf("checkpoint %s (verified against manifest.txt)\n", path.c_str());
  std::printf("model %s | step %lld | tokens seen %lld | samples consumed %lld | best val loss %.4f | weft %s\n",
              f.attr_string("model").c_str(), (long long)f.attr_int("step"), (long long)f.attr_int("tokens_seen"),
              (long long)f.attr_int("consumed_samples"), f.attr_double("best_val_loss"),
              f.attr_string("weft_version").c_str());
  std::printf("\nconfiguration:\n%s\n", f.attr_string("config").c_str());
  std::printf("%-44s %-16s %-5s %12s\n", "tensor", "shape", "dtype", "L2 norm");
  for (const std::string& name : f.dataset_names())
    std::printf("%-44s %-16s %-5s %12.5g\n", name.c_str(), f.shape_of(name).str().c_str(),
                std::string(dtype_name(f.dtype_of(name))).c_str(), l2_norm(f, name));
  return 0;
}

}  // namespace weft::launch
