// Checkpoint save (atomic directory protocol) and load.
#include "launch/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "runtime/checkpoint/h5.h"
#include "runtime/checkpoint/manifest.h"
#include "runtime/checkpoint/reader.h"

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

// This rank's expert shard file: every sharded parameter's rows (value and both AdamW moments) under the
// logical dataset names, with their global row range and logical shape (runtime/checkpoint/reader.h).
void write_shard_file(const std::string& path, const ParamStore& store, const OptimState& opt, int shard, int E,
                      int64_t step) {
  ckpt::H5File f = ckpt::H5File::create(path);
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& info = store.info(id);
    if (!info.shard.sharded()) continue;
    const Tensor parts[3] = {store.value(id), slot(opt.m, info), slot(opt.v, info)};
    const char* groups[3] = {"params/", "optim/m/", "optim/v/"};
    for (int k = 0; k < 3; ++k) {
      const std::vector<char> rows = host_copy(parts[k]);
      ckpt::write_shard_rows(f, groups[k] + info.name, parts[k].dtype, info.shape, info.shard.begin,
                             info.full_shape(), rows.data());
    }
  }
  f.set_attr("format_version", int64_t(1));
  f.set_attr("shard", int64_t(shard));
  f.set_attr("expert_parallel", int64_t(E));
  f.set_attr("step", step);
  f.close();
}

// A file digest as text (the manifest's fields), to travel from a shard writer to rank 0.
std::string encode_digest(const ckpt::FileDigest& d) {
  std::ostringstream os;
  os << d.file << " " << d.bytes << " " << d.checksum << " " << d.datasets.size() << "\n";
  for (const auto& ds : d.datasets) os << ds.name << " " << ds.offset << " " << ds.bytes << " " << ds.checksum << "\n";
  return os.str();
}

ckpt::FileDigest decode_digest(const std::string& text) {
  std::istringstream is(text);
  ckpt::FileDigest d;
  size_t n = 0;
  is >> d.file >> d.bytes >> d.checksum >> n;
  d.datasets.resize(n);
  for (auto& ds : d.datasets) is >> ds.name >> ds.offset >> ds.bytes >> ds.checksum;
  WEFT_CHECK(!is.fail(), "[checkpoint] a shard writer's digest of '", d.file, "' did not arrive intact");
  return d;
}

// Collective over the writers' expert group: every writer's file digest, in shard order.
std::vector<ckpt::FileDigest> gather_digests(const ckpt::FileDigest& mine, par::Communicator& group) {
  const std::string text = encode_digest(mine);
  int64_t len = static_cast<int64_t>(text.size());
  std::vector<int64_t> lens(static_cast<size_t>(group.size()));
  group.all_gather(&len, lens.data(), 1, DType::i64);
  const int64_t words = (*std::max_element(lens.begin(), lens.end()) + 7) / 8;
  std::vector<int64_t> send(static_cast<size_t>(words), 0), all(static_cast<size_t>(words * group.size()));
  std::memcpy(send.data(), text.data(), text.size());
  group.all_gather(send.data(), all.data(), words, DType::i64);
  std::vector<ckpt::FileDigest> out;
  for (int r = 0; r < group.size(); ++r)
    out.push_back(decode_digest(std::string(reinterpret_cast<const char*>(all.data() + r * words),
                                            static_cast<size_t>(lens[static_cast<size_t>(r)]))));
  return out;
}

// Every rank learns whether a phase of the save worked on every rank (a failed save must not look like a
// success anywhere); the rank that failed reports its own error, the others name it.
void agree(par::Communicator& comm, const std::string& error) {
  int64_t failed = error.empty() ? 0 : comm.rank() + 1;
  comm.all_reduce(&failed, 1, DType::i64, par::ReduceOp::max);
  if (failed == 0) return;
  WEFT_CHECK(error.empty(), error, " (the previous checkpoint is intact)");
  WEFT_FAIL("[checkpoint] save failed on rank ", failed - 1, " (the previous checkpoint is intact)");
}

void write_file(const std::string& path, const ParamStore& store, const OptimState& opt, const TrainState& s,
                const CheckpointMeta& meta, const std::vector<models::StateTensor>& model_state,
                int expert_parallel) {
  ckpt::H5File f = ckpt::H5File::create(path);
  for (const models::StateTensor& t : model_state) {
    WEFT_CHECK(t.value.tensor().device == Device::cpu, "[checkpoint] model state '", t.name, "' is not on the host");
    f.write(state_dataset(t), t.value.tensor().dtype, t.value.tensor().shape, t.value.tensor().data);
  }
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& info = store.info(id);
    if (expert_parallel > 1 && info.shard.sharded()) continue;  // in the expert shard files
    WEFT_CHECK(!info.shard.sharded() || info.shard.rows == info.shape[0], "[checkpoint] '", info.name,
               "' holds rows [", info.shard.begin, ", ", info.shard.begin + info.shape[0], ") of ", info.shard.rows,
               ", and no expert group of E > 1 ranks was given to save the others");
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
  if (!meta.tokenizer.kind.empty()) {
    f.set_attr("tokenizer_kind", meta.tokenizer.kind);
    f.set_attr("tokenizer_vocab_size", meta.tokenizer.vocab_size);
    f.set_attr("tokenizer_hash", meta.tokenizer.hash);
  }
  f.set_attr("expert_parallel", int64_t(expert_parallel));
  f.set_attr("expert_shard_files", int64_t(expert_parallel > 1 ? expert_parallel : 0));
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
  f.set_attr("skipped_total", s.skipped_total);
  f.set_attr("skipped_in_row", s.skipped_in_row);
  if (!s.loss_window.empty())
    f.write("train/loss_window", DType::f64, Shape{static_cast<int64_t>(s.loss_window.size())}, s.loss_window.data());
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
                            par::Communicator* expert_group, int64_t keep_log_spaced_every) {
  const std::string dir = run_dir + "/checkpoints";
  const std::string final_dir = dir + "/" + step_name(state.step);
  const std::string tmp = final_dir + ".tmp";
  const bool root = comm.rank() == 0;
  // Expert shards: with E > 1 every rank of rank 0's expert group (one replica of each shard) writes its
  // own shard file; nobody gathers the logical expert tensors.
  const int E = expert_group ? expert_group->size() : 1;
  int64_t writer = root ? 1 : 0;  // 1 on every rank of rank 0's expert group
  if (E > 1) expert_group->all_reduce(&writer, 1, DType::i64, par::ReduceOp::max);
  const bool shard_writer = E > 1 && writer;
  std::string error;
  if (root) {  // 1. the temporary folder, before anyone writes into it
    try {
      fs::create_directories(dir);
      fs::remove_all(tmp);
      fs::create_directories(tmp);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  agree(comm, error);
  ckpt::FileDigest main_digest, shard_digest;  // 2. every file written, fsynced and digested by its writer
  try {
    if (shard_writer) {
      const std::string name = ckpt::expert_shard_file(expert_group->rank());
      write_shard_file(tmp + "/" + name, store, opt, expert_group->rank(), E, state.step);
      fsync_path(tmp + "/" + name);
      shard_digest = ckpt::digest_file(tmp, name);
    }
    if (root) {
      write_file(tmp + "/" + ckpt::kMainFile, store, opt, state, meta, model_state, E);
      fsync_path(tmp + "/" + ckpt::kMainFile);
      main_digest = ckpt::digest_file(tmp, ckpt::kMainFile);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  agree(comm, error);  // every file is complete: the barrier before the commit
  std::vector<ckpt::FileDigest> files{main_digest};  // 3. the shard files' digests travel to rank 0
  if (shard_writer) {
    std::vector<ckpt::FileDigest> shards = gather_digests(shard_digest, *expert_group);
    files.insert(files.end(), shards.begin(), shards.end());
  }
  if (root) {  // 4. rank 0 commits: manifest (last), rename, `latest`, retention
    try {
      ckpt::write_manifest(tmp, state.step, files);
      fsync_path(tmp + "/manifest.txt");
      fsync_path(tmp);
      fs::remove_all(final_dir);
      fs::rename(tmp, final_dir);
      fsync_path(dir);
      write_text_atomically(dir, "latest", step_name(state.step) + "\n");
      // Retention: keep the newest `keep` complete checkpoints (and the log-spaced ones).
      std::vector<int64_t> steps;
      for (const auto& e : fs::directory_iterator(dir)) {
        std::string n = e.path().filename().string();
        if (e.is_directory() && n.rfind("step_", 0) == 0 && n.find(".tmp") == std::string::npos)
          steps.push_back(std::stoll(n.substr(5)));
      // Only this run's history: a folder past the step just saved (none after prepare_resume) is never pruned.
      steps.erase(std::remove_if(steps.begin(), steps.end(), [&](int64_t s) { return s > state.step; }), steps.end());
      }
      std::sort(steps.begin(), steps.end());
      for (int64_t s : checkpoints_to_remove(steps, keep, keep_log_spaced_every)) fs::remove_all(dir + "/" + step_name(s));
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  agree(comm, error);
  return final_dir;
}

std::vector<int64_t> checkpoints_to_remove(const std::vector<int64_t>& steps, int64_t keep, int64_t log_spaced_every) {
  std::vector<bool> kept(steps.size(), false);
  for (size_t i = steps.size() > static_cast<size_t>(keep) ? steps.size() - static_cast<size_t>(keep) : 0; i < steps.size(); ++i)
    kept[i] = true;
  if (log_spaced_every > 0 && !steps.empty())
    for (int64_t mark = log_spaced_every; mark <= steps.back(); mark *= 2) {
      auto first = std::lower_bound(steps.begin(), steps.end(), mark);  // the first at or after 2^k x every
      if (first != steps.end()) kept[static_cast<size_t>(first - steps.begin())] = true;
    }
  std::vector<int64_t> remove;
  for (size_t i = 0; i < steps.size(); ++i)
    if (!kept[i]) remove.push_back(steps[i]);
  return remove;
}

namespace {
// Verifies the folder against its manifest before HDF5 reads anything.
std::string verified_file(const std::string& path) {
  WEFT_CHECK(fs::is_directory(path), "[checkpoint] '", path, "' is not a checkpoint folder");
  ckpt::verify_checkpoint(path);  // the shard files too
  return path + "/" + ckpt::kMainFile;
}
}  // namespace

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  ckpt::H5File f = ckpt::H5File::open_read(verified_file(path));
  CheckpointMeta m;
  m.model = f.attr_string("model");
  m.config_ini = f.attr_string("config");
  m.version = f.attr_string("weft_version");
  m.world_size = static_cast<int>(f.attr_int("world_size"));
  if (f.has_attr("tokenizer_kind"))
    m.tokenizer = {f.attr_string("tokenizer_kind"), f.attr_int("tokenizer_vocab_size"), f.attr_string("tokenizer_hash")};
  return m;
}

void load_checkpoint(const std::string& path, ParamStore& store, OptimState* opt, TrainState* state) {
  const ckpt::CheckpointReader r(path);  // verified; the main file and any expert shard files
  const ckpt::H5File& f = r.main();
  for (int id = 0; id < store.size(); ++id) {
    const ParamInfo& info = store.info(id);
    // The stored logical tensor; a sharded parameter reads its rows [shard.begin, shard.begin + shape[0]),
    // from the main file (older or E = 1 checkpoints) or whichever shard files hold them.
    const Shape full = info.full_shape();
    auto read_rows = [&](const std::string& dataset, DType dt, void* dst, Device dst_dev) {
      WEFT_CHECK(r.has(dataset), "[checkpoint] ", f.path(), ": dataset '", dataset, "' is missing",
                 r.shard_files() ? " (in the main file and in every expert shard file)" : "");
      const Shape have = r.shape_of(dataset);
      WEFT_CHECK(have == full, "[checkpoint] ", f.path(), ": dataset '", dataset, "' has shape ", have.str(),
                 " but the model expects ", full.str());
      std::vector<char> b(static_cast<size_t>(info.shape.numel()) * dtype_size(dt));
      if (full.rank == 0) r.read(dataset, dt, full, b.data());
      else r.read_rows(dataset, dt, info.shard.sharded() ? info.shard.begin : 0, info.shape[0], b.data());
      device_copy(dst_dev, dst, Device::cpu, b.data(), b.size());
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
  for (const std::string& name : r.dataset_names())
    if (name.rfind("params/", 0) == 0)
      WEFT_CHECK(store.find(name.substr(7)) >= 0, "[checkpoint] ", path, " has parameter '", name.substr(7),
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
    state->skipped_total = f.has_attr("skipped_total") ? f.attr_int("skipped_total") : 0;
    state->skipped_in_row = f.has_attr("skipped_in_row") ? f.attr_int("skipped_in_row") : 0;
    state->loss_window.clear();
    if (std::find(names.begin(), names.end(), "train/loss_window") != names.end()) {
      const Shape shape = f.shape_of("train/loss_window");
      WEFT_CHECK(shape.rank == 1, "[checkpoint] ", f.path(), ": train/loss_window is not a vector");
      state->loss_window.resize(static_cast<size_t>(shape[0]));
      f.read("train/loss_window", DType::f64, shape, state->loss_window.data());
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
