// --init-from RUN (launch/init_from.h): find RUN's latest checkpoint, load the parameters that match by name and
// shape, report the rest.
#include "launch/init_from.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "runtime/checkpoint/reader.h"
#include "runtime/check.h"
#include "runtime/memory.h"

namespace weft::launch {

namespace fs = std::filesystem;

std::string InitFromReport::summary() const {
  std::string s = std::to_string(loaded.size()) + " parameters loaded, " + std::to_string(fresh.size()) +
                  " new (initialised), " + std::to_string(skipped.size()) + " skipped";
  if (!skipped.empty()) {
    s += " (shape mismatch:";
    for (size_t i = 0; i < skipped.size(); ++i) s += (i ? "; " : " ") + skipped[i];
    s += ")";
  }
  if (!unused.empty()) s += ", " + std::to_string(unused.size()) + " of the checkpoint's parameters unused";
  return s;
}

std::string resolve_init_from(const std::string& run) {
  WEFT_CHECK(!run.empty(), "--init-from needs a run folder");
  if (fs::exists(fs::path(run) / "rank_00000.h5")) return run;  // a checkpoint folder itself
  const fs::path latest = fs::path(run) / "checkpoints" / "latest";
  WEFT_CHECK(fs::exists(latest), "--init-from ", run, ": the run has no checkpoint (", latest.string(),
             " does not exist)");
  std::ifstream in(latest);
  std::string name;
  in >> name;
  const fs::path path = fs::path(run) / "checkpoints" / name;
  WEFT_CHECK(!name.empty() && fs::is_directory(path), "--init-from ", run, ": ", latest.string(), " points at '",
             name, "', which does not exist");
  return path.string();
}

InitFromReport load_matching_params(const std::string& checkpoint, ParamStore& store) {
  WEFT_CHECK(fs::is_directory(checkpoint), "--init-from: '", checkpoint, "' is not a checkpoint folder");
  const ckpt::CheckpointReader f(checkpoint);  // verified; the main file and any expert shard files
  std::vector<std::string> stored;
  for (const std::string& name : f.dataset_names())
    if (name.rfind("params/", 0) == 0) stored.push_back(name.substr(7));
  std::sort(stored.begin(), stored.end());
  InitFromReport r;
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& info = store.info(id);
    if (!std::binary_search(stored.begin(), stored.end(), info.name)) {
      r.fresh.push_back(info.name);
      continue;
    }
    const Shape full = info.full_shape(), have = f.shape_of("params/" + info.name);
    if (!(have == full)) {
      r.skipped.push_back(info.name + ": " + have.str() + " in the checkpoint vs " + full.str());
      continue;
    }
    // The stored logical tensor; a sharded parameter reads its rows [shard.begin, shard.begin + shape[0]).
    std::vector<char> b(static_cast<size_t>(info.shape.numel()) * dtype_size(store.dtype()));
    if (full.rank == 0) f.read("params/" + info.name, store.dtype(), full, b.data());
    else
      f.read_rows("params/" + info.name, store.dtype(), info.shard.sharded() ? info.shard.begin : 0, info.shape[0],
                  b.data());
    device_copy(store.device(), store.value(id).data, Device::cpu, b.data(), b.size());
    r.loaded.push_back(info.name);
  }
  for (const std::string& name : stored)
    if (store.find(name) < 0) r.unused.push_back(name);
  return r;
}

}  // namespace weft::launch
