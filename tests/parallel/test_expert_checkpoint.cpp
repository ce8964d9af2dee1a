// Checkpoints of expert-sharded parameters (issue 13): initialisation does not depend on E; a checkpoint
// saved with E > 1 has one shard file per expert shard (experts_<shard>.h5, written by the rank of rank 0's
// expert group that owns it, with each tensor's global row range and logical shape), a main file without
// expert tensors and a manifest listing every file; it loads with any other E (parameters and moments),
// E = 1 assembling the whole tensors; a deleted or corrupt shard file is refused naming it. Local cases run
// directly; the *Worker suites run under mpirun on 2 and 4 ranks (E = 4 saves only on 4).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "launch/checkpoint.h"
#include "parallel/expert_parallel.h"
#include "runtime/checkpoint/h5.h"
#include "runtime/checkpoint/reader.h"
#include "tests/parallel/mpi_worker.h"

namespace weft::test {
namespace {

namespace fs = std::filesystem;

// The logical element offset of a parameter's first local element (shard begin x row size).
int64_t logical_offset(const ParamInfo& p) {
  return p.shard.sharded() ? p.shard.begin * (p.shape.numel() / p.shape[0]) : 0;
}

// A store of the toy checkpoint model with its experts split over E: dense d (2, 3); experts e (4 rows of
// 3) and f (4 rows of 5), shard s of E holding rows [s * 4 / E, (s + 1) * 4 / E).
struct CkptStore {
  ParamStore store;
  OwnedTensor m, v;
  CkptStore(int E, int shard) {
    const par::RowRange r = par::shard_rows(4, E, shard);
    store.add("d", {2, 3}, Init::Normal(0.5));
    store.add("e", {r.count, 3}, Init::Normal(0.5), true, ParamGroup::expert, ShardOf{r.begin, 4});
    store.add("f", {r.count, 5}, Init::Uniform(0.5), true, ParamGroup::expert, ShardOf{r.begin, 4});
    store.finalize();
    store.initialize(42);
    m = OwnedTensor(DType::f32, {store.total()});
    v = OwnedTensor(DType::f32, {store.total()});
  }
  // Moments as a function of (parameter, logical element): what a run would have, whatever its E.
  void fill_moments() {
    for (int id = 0; id < store.size(); ++id) {
      const ParamInfo& p = store.info(id);
      for (int64_t j = 0; j < p.shape.numel(); ++j) {
        m.ptr<float>()[p.offset + j] = static_cast<float>(id * 1000 + logical_offset(p) + j);
        v.ptr<float>()[p.offset + j] = static_cast<float>(0.5 * (id * 1000 + logical_offset(p) + j));
      }
    }
  }
  std::vector<float> values() const {
    const Tensor t = store.values();
    return std::vector<float>(t.ptr<float>(), t.ptr<float>() + t.numel());
  }
};

// Loads `path` into the layout (E, shard) and compares with that layout's own initialisation and moments.
void expect_loads_as(const std::string& path, int E, int shard) {
  CkptStore want(E, shard), got(E, shard);
  want.fill_moments();
  for (int id = 0; id < got.store.size(); ++id)  // make sure the load overwrites everything
    std::fill(got.store.value(id).ptr<float>(), got.store.value(id).ptr<float>() + got.store.info(id).shape.numel(), -9.f);
  launch::OptimState os{got.m.tensor(), got.v.tensor(), 0};
  launch::TrainState ts;
  launch::load_checkpoint(path, got.store, &os, &ts);
  EXPECT_EQ(got.values(), want.values()) << "E = " << E << ", shard " << shard;
  const float* gm = got.m.ptr<float>();
  EXPECT_EQ(std::vector<float>(gm, gm + got.m.numel()), std::vector<float>(want.m.ptr<float>(), want.m.ptr<float>() + want.m.numel()))
      << "E = " << E << ", shard " << shard;
  const float* gv = got.v.ptr<float>();
  EXPECT_EQ(std::vector<float>(gv, gv + got.v.numel()), std::vector<float>(want.v.ptr<float>(), want.v.ptr<float>() + want.v.numel()));
  EXPECT_EQ(os.steps, 17);
  EXPECT_EQ(ts.step, 5);
}

TEST(ExpertCheckpoint, InitialisationDoesNotDependOnE) {
  CkptStore full(1, 0);
  for (int E : {2, 4})
    for (int s = 0; s < E; ++s) {
      CkptStore part(E, s);
      for (const char* name : {"e", "f"}) {
        const int id = part.store.find(name);
        const int64_t n = part.store.info(id).shape.numel();
        const float* p = part.store.value(id).ptr<float>();
        const float* f = full.store.value(id).ptr<float>() + s * n;
        EXPECT_EQ(std::vector<float>(p, p + n), std::vector<float>(f, f + n)) << name << " E = " << E << " shard " << s;
      }
    }
}

TEST(ExpertCheckpoint, OneRankSavesAndEveryLayoutLoads) {
  const std::string dir = (fs::temp_directory_path() / ("weft_expert_ckpt_" + std::to_string(::getpid()))).string();
  CkptStore one(1, 0);
  one.fill_moments();
  auto local = par::make_local_communicator();
  launch::TrainState ts;
  ts.step = 5;
  const std::string path = launch::save_checkpoint(dir, one.store, {one.m.tensor(), one.v.tensor(), 17}, ts,
                                                   launch::CheckpointMeta{"toy", "", "test", 1}, 1, *local);
  // E = 1 keeps the single-file layout: whole tensors in the main file, no shard files.
  EXPECT_FALSE(fs::exists(path + "/" + ckpt::expert_shard_file(0)));
  EXPECT_EQ(ckpt::H5File::open_read(path + "/" + ckpt::kMainFile).shape_of("params/e"), (Shape{4, 3}));
  expect_loads_as(path, 1, 0);
  for (int s = 0; s < 4; ++s) expect_loads_as(path, 4, s);
  fs::remove_all(dir);
}

// Saves the toy store with its experts split over E on every rank of the world (E x D ranks) into a fresh
// folder; returns the checkpoint path (the same on every rank).
std::string save_with(int E, const std::string& tag) {
  par::Communicator& world = mpi_world();
  const par::ExpertLayout l = par::make_expert_layout(world.size(), world.rank(), E, 4, "toy");
  par::ExpertComms c = par::split_expert_comms(world, l);
  int32_t pid = ::getpid();
  world.broadcast(&pid, 1, DType::i32, 0);
  const std::string dir = (fs::temp_directory_path() / ("weft_expert_ckpt_" + tag + "_" + std::to_string(pid))).string();
  CkptStore mine(E, l.shard());
  mine.fill_moments();
  launch::TrainState ts;
  ts.step = 5;
  return launch::save_checkpoint(dir, mine.store, {mine.m.tensor(), mine.v.tensor(), 17}, ts,
                                 launch::CheckpointMeta{"toy", "", "test", world.size()}, 1, world, {}, c.group.get());
}

void remove_run(const std::string& path) {
  mpi_world().barrier();
  if (mpi_world().rank() == 0) fs::remove_all(fs::path(path).parent_path().parent_path());
}

// The files of a checkpoint saved with E: one shard file per shard with its rows, no expert tensor in the main
// file, every file in the manifest.
void expect_shard_layout(const std::string& path, int E) {
  const ckpt::H5File main = ckpt::H5File::open_read(path + "/" + ckpt::kMainFile);
  EXPECT_EQ(main.attr_int("expert_shard_files"), E);
  EXPECT_EQ(main.attr_int("expert_parallel"), E);
  EXPECT_TRUE(main.has("params/d") && main.has("optim/m/d"));
  for (const std::string& name : main.dataset_names())
    EXPECT_TRUE(name.find("/e") == std::string::npos && name.find("/f") == std::string::npos) << name;
  EXPECT_FALSE(fs::exists(path + "/" + ckpt::expert_shard_file(E)));
  std::ifstream in(path + "/manifest.txt");
  const std::string manifest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(manifest.find("file " + std::string(ckpt::kMainFile) + " "), std::string::npos);
  for (int s = 0; s < E; ++s) {
    const std::string file = ckpt::expert_shard_file(s);
    EXPECT_NE(manifest.find("file " + file + " "), std::string::npos) << manifest;
    const ckpt::H5File f = ckpt::H5File::open_read(path + "/" + file);
    EXPECT_EQ(f.attr_int("shard"), s);
    EXPECT_EQ(f.dataset_names(), (std::vector<std::string>{"optim/m/e", "optim/m/f", "optim/v/e", "optim/v/f",
                                                           "params/e", "params/f"}));
    for (const std::string& name : f.dataset_names()) {
      const int64_t cols = name.back() == 'e' ? 3 : 5;
      EXPECT_EQ(f.dataset_attr_ints(name, "row_range"), (std::vector<int64_t>{s * 4 / E, (s + 1) * 4 / E})) << file;
      EXPECT_EQ(f.dataset_attr_ints(name, "logical_shape"), (std::vector<int64_t>{4, cols})) << file;
      EXPECT_EQ(f.dataset_attr_string(name, "logical_name"), name.substr(name.rfind('/') + 1));
      EXPECT_EQ(f.shape_of(name), (Shape{4 / E, cols})) << file << " " << name;
    }
  }
}

std::string load_error(const std::string& path) {
  CkptStore got(1, 0);
  launch::OptimState os{got.m.tensor(), got.v.tensor(), 0};
  try {
    launch::load_checkpoint(path, got.store, &os, nullptr);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(ExpertCheckpointWorker, SavedWithE2HasTwoShardFilesAndLoadsWithE1AndE4) {
  WEFT_MPI_WORKER_ONLY();
  const std::string path = save_with(2, "e2");
  if (mpi_world().rank() == 0) expect_shard_layout(path, 2);
  expect_loads_as(path, 1, 0);
  expect_loads_as(path, 2, mpi_world().rank() % 2);
  for (int s = 0; s < 4; ++s) expect_loads_as(path, 4, s);
  remove_run(path);
}

TEST(ExpertCheckpointWorker, SavedWithE4LoadsWithE1AndE2) {
  WEFT_MPI_WORKER_ONLY();
  if (mpi_world().size() != 4) GTEST_SKIP() << "E = 4 needs 4 ranks";
  const std::string path = save_with(4, "e4");
  if (mpi_world().rank() == 0) expect_shard_layout(path, 4);
  expect_loads_as(path, 1, 0);
  for (int s = 0; s < 2; ++s) expect_loads_as(path, 2, s);  // rows straddle two shard files
  expect_loads_as(path, 4, mpi_world().rank());
  remove_run(path);
}

TEST(ExpertCheckpointWorker, MissingOrCorruptShardFileIsRefusedNamingIt) {
  WEFT_MPI_WORKER_ONLY();
  const std::string path = save_with(2, "bad");
  if (mpi_world().rank() == 0) {
    const std::string missing = path + "_missing", corrupt = path + "_corrupt";
    fs::copy(path, missing);
    fs::remove(missing + "/" + ckpt::expert_shard_file(1));
    std::string e = load_error(missing);
    EXPECT_NE(e.find(ckpt::expert_shard_file(1)), std::string::npos) << e;
    EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
    fs::copy(path, corrupt);
    const std::string file = corrupt + "/" + ckpt::expert_shard_file(0);
    const int64_t at = ckpt::H5File::open_read(file).data_offset("params/f") + 3;
    {
      std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
      io.seekg(at);
      char c = 0;
      io.get(c);
      io.seekp(at);
      io.put(static_cast<char>(c ^ 0x10));
    }
    e = load_error(corrupt);
    EXPECT_NE(e.find(ckpt::expert_shard_file(0)), std::string::npos) << e;
    EXPECT_NE(e.find("checksum mismatch in dataset 'params/f'"), std::string::npos) << e;
    EXPECT_EQ(load_error(path), "");  // the original still loads
  }
  remove_run(path);
}

TEST(ExpertCheckpoint, Mpi2Ranks) { WEFT_RUN_MPI_WORKERS(2, "ExpertCheckpointWorker.*"); }
TEST(ExpertCheckpoint, Mpi4Ranks) { WEFT_RUN_MPI_WORKERS(4, "ExpertCheckpointWorker.*"); }

}  // namespace
}  // namespace weft::test
