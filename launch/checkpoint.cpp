// Checkpoint save (atomic directory protocol) and load.
#include "launch/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>
#include <vector>

#include "runtime/checkpoint/h5.h"
#include "runtime/checkpoint/manifest.h"

#ifndef WEFT_VERSION
#define WEFT_VERSION "unknown"
#endif

namespace weft::launch {

namespace fs = std::filesystem;

std::string weft_version() { return WEFT_VERSION; }

namespace {

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  WEFT_CHECK(fd >= 0, "[checkpoint] cannot open '", path, "' to fsync: ", std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  WEFT_CHECK(rc == 0, "[checkpoint] fsync of '", path, "' failed: ", std::strerror(err));
}

std::string step_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%08lld", static_cast<long long>(step));
  return buf;
}

std::vector<char> host_copy(const Tensor& t) {
  std::vector<char> h(t.nbytes());
  device_copy(Device::cpu, h.data(), t.device, t.data, t.nbytes());
  return h;
}

Tensor slot(const Tensor& flat, const ParamInfo& info) {
  Tensor t = flat;
  t.shape = info.shape;
  t.data = static_cast<char*>(flat.data) + info.offset * dtype_size(flat.dtype);
  return t;
}

std::string state_dataset(const models::StateTensor& t) {
  char buf[40];
  if (t.stream >= 0) std::snprintf(buf, sizeof buf, "state/stream_%08lld/", static_cast<long long>(t.stream));
  else std::snprintf(buf, sizeof buf, "state/shared/");
  return buf + t.name;
}

// A sharded parameter's logical tensors gathered over the expert group: value, m, v (host bytes).
using Gathered = std::unordered_map<int, std::array<std::vector<char>, 3>>;

// Collective over expert_group: every sharded parameter's value and moments as full logical tensors.
Gathered gather_shards(const ParamStore& store, const OptimState& opt, par::Communicator* group) {
  Gathered out;
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& info = store.info(id);
    if (!info.shard.sharded() || info.shard.rows == info.shape[0]) continue;
    const int E = group ? group->size() : 1;
    WEFT_CHECK(group && info.shard.rows == info.shape[0] * E && info.shard.begin == info.shape[0] * group->rank(),
               "[checkpoint] '", info.name, "' holds rows [", info.shard.begin, ", ", info.shard.begin + info.shape[0],
               ") of ", info.shard.rows, ", which is not expert-group rank ", group ? group->rank() : 0, "'s equal slice over ",
               E, " ranks (no expert group to gather the other rows from?)");
    const Tensor parts[3] = {store.value(id), slot(opt.m, info), slot(opt.v, info)};
    for (int k = 0; k < 3; ++k) {
      std::vector<char> mine = host_copy(parts[k]);
      std::vector<char>& full = out[id][k];
      full.resize(mine.size() * E);
      group->all_gather(mine.data(), full.data(), parts[k].numel(), parts[k].dtype);
    }
  }
  return out;
}

void write_file(const std::string& path, const ParamStore& store, const OptimState& opt, const TrainState& s,
                const CheckpointMeta& meta, const std::vector<models::StateTensor>& model_state,
                const Gathered& gathered, int expert_parallel) {
  ckpt::H5File f = ckpt::H5File::create(path);
  for (const models::StateTensor& t : model_state) {
    WEFT_CHECK(t.value.tensor().device == Device::cpu, "[checkpoint] model state '", t.name, "' is not on the host");
    f.write(state_dataset(t), t.value.tensor().dtype, t.value.tensor().shape, t.value.tensor().data);
  }
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& info = store.info(id);
    auto it = gathered.find(id);
    if (it != gathered.end()) {  // an expert shard: the logical tensor gathered from the expert group
      const Shape full = info.full_shape();
      f.write("params/" + info.name, store.dtype(), full, it->second[0].data());
      f.write("optim/m/" + info.name, opt.m.dtype, full, it->second[1].data());
      f.write("optim/v/" + info.name, opt.v.dtype, full, it->second[2].data());
      continue;
    }
    auto v = host_copy(store.value(id));
    f.write("params/" + info.name, store.dtype(), info.shape, v.data());
    auto m = host_copy(slot(opt.m, info));
    f.write("optim/m/" + info.name, opt.m.dtype, info.shape, m.data());
    auto vv = host_copy(slot(opt.v, info));
    f.write("optim/v/" + info.name, opt.v.dtype, info.shape, vv.data());
  }
  f.set_attr("format_version", int64_t(1));
  f.set_attr("model", meta.model);
  f.set_attr("config", meta.config_ini);
  f.set_attr("weft_version", meta.version);
  f.set_attr("world_size", int64_t(meta.world_size));
  f.set_attr("expert_parallel", int64_t(expert_parallel));  // informational: tensors are stored unsharded
  f.set_attr("step", s.step);
  f.set_attr("optimizer_steps", opt.steps);
  f.set_attr("consumed_samples", s.consumed_samples);
  f.set_attr("tokens_seen", s.tokens_seen);
  f.set_attr("rng_seed", static_cast<int64_t>(s.rng.seed));
  f.set_attr("rng_offset", static_cast<int64_t>(s.rng.offset));
  f.set_attr("best_val_loss", s.best_val_loss);
  f.set_attr("elapsed_s", s.elapsed_s);
  f.set_attr("lr_decay_steps", s.lr_decay_steps);
  if (!s.segment_cursors.empty())
    f.write("data/segment_cursors", DType::i64, Shape{static_cast<int64_t>(s.segment_cursors.size())},
            s.segment_cursors.data());
  f.close();
}

void write_text_atomically(const std::string& dir, const std::string& name, const std::string& text) {
  std::string tmp = dir + "/" + name + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.close();
    WEFT_CHECK(out.good(), "[checkpoint] writing '", tmp, "' failed (disk full?)");
  }
  fsync_path(tmp);
  fs::rename(tmp, dir + "/" + name);
  fsync_path(dir);
}

}  // namespace

std::string save_checkpoint(const std::string& run_dir, const ParamStore& store, const OptimState& opt,
                            const TrainState& state, const CheckpointMeta& meta, int64_t keep,
                            par::Communicator& comm, const std::vector<models::StateTensor>& model_state,
                            par::Communicator* expert_group) {
  const std::string dir = run_dir + "/checkpoints";
  const std::string final_dir = dir + "/" + step_name(state.step);
  std::string error;
  // Expert shards: rank 0's expert group gathers them (collective within that group only).
  Gathered gathered;
  int64_t writers = comm.rank() == 0 ? 1 : 0;  // 1 on every rank of rank 0's expert group
  const int E = expert_group ? expert_group->size() : 1;
  if (E > 1) expert_group->all_reduce(&writers, 1, DType::i64, par::ReduceOp::max);
  if (writers) gathered = gather_shards(store, opt, E > 1 ? expert_group : nullptr);
  if (comm.rank() == 0) {
    try {
      fs::create_directories(dir);
      const std::string tmp = final_dir + ".tmp";
      fs::remove_all(tmp);
      fs::create_directories(tmp);
      write_file(tmp + "/rank_00000.h5", store, opt, state, meta, model_state, gathered, E);
      fsync_path(tmp + "/rank_00000.h5");
      ckpt::write_manifest(tmp, state.step, {ckpt::digest_file(tmp, "rank_00000.h5")});  // written last
      fsync_path(tmp + "/manifest.txt");
      fsync_path(tmp);
      fs::remove_all(final_dir);
      fs::rename(tmp, final_dir);
      fsync_path(dir);
      write_text_atomically(dir, "latest", step_name(state.step) + "\n");
      // Retention: keep the newest `keep` complete checkpoints.
      std::vector<std::string> steps;
      for (const auto& e : fs::directory_iterator(dir)) {
        std::string n = e.path().filename().string();
        if (e.is_directory() && n.rfind("step_", 0) == 0 && n.find(".tmp") == std::string::npos) steps.push_back(n);
      }
      std::sort(steps.begin(), steps.end());
      for (size_t i = 0; i + keep < steps.size(); ++i) fs::remove_all(dir + "/" + steps[i]);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  // Every rank learns whether the save worked (a failed save must not look like a success anywhere).
  int64_t failed = error.empty() ? 0 : 1;
  comm.all_reduce(&failed, 1, DType::i64, par::ReduceOp::max);
  WEFT_CHECK(failed == 0, error.empty() ? "[checkpoint] save failed on rank 0" : error,
             " (the previous checkpoint is intact)");
  return final_dir;
}

std::string resolve_checkpoint(const std::string& run_dir, const std::string& resume) {
  if (resume.empty()) return "";
  if (resume != "latest" && resume != "auto") {
    WEFT_CHECK(fs::exists(resume), "--resume: checkpoint '", resume, "' does not exist");
    return resume;
  }
  const std::string latest = run_dir + "/checkpoints/latest";
  if (!fs::exists(latest)) {
    WEFT_CHECK(resume == "auto", "--resume latest: '", latest, "' does not exist (no checkpoint saved yet)");
    return "";
  }
  std::ifstream in(latest);
  std::string name;
  in >> name;
  const std::string path = run_dir + "/checkpoints/" + name;
  WEFT_CHECK(!name.empty() && fs::exists(path), "[checkpoint] '", latest, "' points at '", name,
             "', which does not exist");
  return path;
}

namespace {
// Verifies the folder against its manifest before HDF5 reads anything.
std::string verified_file(const std::string& path) {
  WEFT_CHECK(fs::is_directory(path), "[checkpoint] '", path, "' is not a checkpoint folder");
  ckpt::verify_checkpoint(path);
  return path + "/rank_00000.h5";
}
}  // namespace

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  ckpt::H5File f = ckpt::H5File::open_read(verified_file(path));
  CheckpointMeta m;
  m.model = f.attr_string("model");
  m.config_ini = f.attr_string("config");
  m.version = f.attr_string("weft_version");
  m.world_size = static_cast<int>(f.attr_int("world_size"));
  return m;
}

void load_checkpoint(const std::string& path, ParamStore& store, OptimState* opt, TrainState* state) {
  ckpt::H5File f = ckpt::H5File::open_read(verified_file(path));
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& info = store.info(id);
    // The stored logical tensor; a sharded parameter keeps its rows [shard.begin, shard.begin + shape[0]).
    const Shape full = info.full_shape();
    auto read_rows = [&](const std::string& dataset, DType dt, void* dst, Device dst_dev) {
      const size_t es = dtype_size(dt), n = static_cast<size_t>(info.shape.numel());
      std::vector<char> b(static_cast<size_t>(full.numel()) * es);
      f.read(dataset, dt, full, b.data());
      const size_t skip = info.shard.sharded() ? static_cast<size_t>(info.shard.begin) * (n / info.shape[0]) : 0;
      device_copy(dst_dev, dst, Device::cpu, b.data() + skip * es, n * es);
    };
    read_rows("params/" + info.name, store.dtype(), store.value(id).data, store.device());
    if (opt) {
      for (const auto& [group, flat] : {std::pair{"optim/m/", &opt->m}, std::pair{"optim/v/", &opt->v}}) {
        Tensor dst = slot(*flat, info);
        read_rows(group + info.name, dst.dtype, dst.data, dst.device);
      }
    }
  }
  // A parameter in the file that the model does not have means another architecture or configuration.
  for (const std::string& name : f.dataset_names())
    if (name.rfind("params/", 0) == 0)
      WEFT_CHECK(store.find(name.substr(7)) >= 0, "[checkpoint] ", f.path(), " has parameter '", name.substr(7),
                 "' that this model does not have (a checkpoint of another architecture or configuration?)");
  if (opt) opt->steps = f.attr_int("optimizer_steps");
  if (state) {
    state->step = f.attr_int("step");
    state->consumed_samples = f.attr_int("consumed_samples");
    state->tokens_seen = f.attr_int("tokens_seen");
    state->rng.seed = static_cast<uint64_t>(f.attr_int("rng_seed"));
    state->rng.offset = static_cast<uint64_t>(f.attr_int("rng_offset"));
    state->best_val_loss = f.attr_double("best_val_loss");
    state->elapsed_s = f.attr_double("elapsed_s");
    state->lr_decay_steps = f.has_attr("lr_decay_steps") ? f.attr_int("lr_decay_steps") : 0;
    state->segment_cursors.clear();
    const std::vector<std::string> names = f.dataset_names();
    if (std::find(names.begin(), names.end(), "data/segment_cursors") != names.end()) {
      const Shape shape = f.shape_of("data/segment_cursors");
      WEFT_CHECK(shape.rank == 1, "[checkpoint] ", f.path(), ": data/segment_cursors is not a vector");
      state->segment_cursors.resize(static_cast<size_t>(shape[0]));
      f.read("data/segment_cursors", DType::i64, shape, state->segment_cursors.data());
    }
  }
}

std::vector<models::StateTensor> load_model_state(const std::string& path) {
  ckpt::H5File f = ckpt::H5File::open_read(verified_file(path));
  std::vector<models::StateTensor> out;
  for (const std::string& name : f.dataset_names()) {
    if (name.rfind("state/", 0) != 0) continue;
    const std::string rest = name.substr(6);
    const size_t slash = rest.find('/');
    WEFT_CHECK(slash != std::string::npos, "[checkpoint] ", f.path(), ": malformed state dataset '", name, "'");
    const std::string owner = rest.substr(0, slash);
    models::StateTensor t;
    if (owner.rfind("stream_", 0) == 0) {
      try {
        t.stream = std::stoll(owner.substr(7));
      } catch (const std::exception&) {
        WEFT_FAIL("[checkpoint] ", f.path(), ": malformed state dataset '", name, "'");
      }
    } else {
      WEFT_CHECK(owner == "shared", "[checkpoint] ", f.path(), ": malformed state dataset '", name, "'");
    }
    t.name = rest.substr(slash + 1);
    t.value = OwnedTensor(f.dtype_of(name), f.shape_of(name));
    f.read(name, t.value.tensor().dtype, t.value.tensor().shape, t.value.tensor().data);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace weft::launch
