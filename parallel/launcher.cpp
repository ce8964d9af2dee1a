// Launcher detection and cross-checks.
#include "parallel/launcher.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "runtime/check.h"
#include "runtime/exec.h"

extern char** environ;

namespace weft::par {

Environment current_environment() {
  Environment env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

namespace {

bool lookup_int(const Environment& env, const char* name, long& out) {
  auto it = env.find(name);
  if (it == env.end()) return false;
  char* end = nullptr;
  out = std::strtol(it->second.c_str(), &end, 10);
  WEFT_CHECK(end && *end == '\0' && !it->second.empty(), "[launch] environment variable ", name, "='", it->second,
             "' is not an integer");
  return true;
}

void expect(const Environment& env, const char* name, long actual, const char* what, const std::string& hint) {
  long v;
  if (lookup_int(env, name, v) && v != actual)
    WEFT_FAIL("[launch] ", name, "=", v, " but MPI reports ", what, " ", actual, hint);
}

}  // namespace

std::string LaunchInfo::describe() const {
  std::string s = launcher + ": rank " + std::to_string(rank) + " of " + std::to_string(size) + ", local rank " +
                  std::to_string(local_rank) + " of " + std::to_string(local_size) + " on " + host;
  if (gpu >= 0) return s + ", GPU " + std::to_string(gpu) + " of " + std::to_string(gpus);
  s += ", no GPU";
  if (threads > 0) s += ", " + std::to_string(threads) + " CPU thread" + (threads == 1 ? "" : "s");
  if (threads == 0) s += ", CPU threads from OMP_NUM_THREADS";
  return s;
}

std::string describe_layout(Communicator& world, const LaunchInfo& self) {
  constexpr int kHostInts = 16;  // host names up to 63 bytes (longer ones are cut)
  constexpr int kInts = kHostInts + 1;
  int32_t mine[kInts] = {0};
  std::memcpy(mine, self.host.data(), std::min<size_t>(self.host.size(), kHostInts * 4 - 1));
  mine[kHostInts] = self.local_rank;
  std::vector<int32_t> all(static_cast<size_t>(kInts) * world.size());
  world.all_gather(mine, all.data(), kInts, DType::i32);
  std::vector<std::pair<std::string, std::string>> nodes;  // host -> "rank/local ..."
  for (int r = 0; r < world.size(); ++r) {
    const int32_t* row = all.data() + static_cast<size_t>(kInts) * r;
    const std::string host(reinterpret_cast<const char*>(row), strnlen(reinterpret_cast<const char*>(row), kHostInts * 4));
    auto it = std::find_if(nodes.begin(), nodes.end(), [&](const auto& n) { return n.first == host; });
    if (it == nodes.end()) it = nodes.insert(nodes.end(), {host, ""});
    it->second += ' ';  // piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "a" + std::string
    it->second += std::to_string(r);
    it->second += '/';
    it->second += std::to_string(row[kHostInts]);
  }
  std::string s = "ranks by node (rank/local rank):";
  for (size_t i = 0; i < nodes.size(); ++i) {
    s += i ? "; " : " ";
    s += nodes[i].first;
    s += nodes[i].second;
  }
  return s;
}

int default_threads(int cores, int core_sharers) { return std::max(1, cores / std::max(1, core_sharers)); }

bool oversubscribes(int threads, int cores, int core_sharers) {
  return static_cast<int64_t>(threads) * std::max(1, core_sharers) > cores;
}

int ranks_sharing_cores(const uint64_t* masks, int ranks, int words, int me) {
  const uint64_t* mine = masks + static_cast<size_t>(words) * me;
  int sharing = 0;
  for (int r = 0; r < ranks; ++r) {
    const uint64_t* other = masks + static_cast<size_t>(words) * r;
    bool overlap = false;
    for (int w = 0; w < words && !overlap; ++w) overlap = (mine[w] & other[w]) != 0;
    sharing += overlap || r == me;
  }
  return sharing;
}

LaunchInfo detect_launch(Communicator& world, const Environment& env) {
  LaunchInfo info;
  info.rank = world.rank();
  info.size = world.size();
  auto node = world.split_node();
  info.local_rank = node->rank();
  info.local_size = node->size();
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  info.host = host;
  // CPU cores: this rank's affinity mask, and which ranks on the node share it (masks gathered over the node).
  constexpr int kMaskWords = sizeof(cpu_set_t) / sizeof(uint64_t);
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) != 0 || CPU_COUNT(&mask) == 0)
    for (long c = 0; c < std::min<long>(sysconf(_SC_NPROCESSORS_ONLN), CPU_SETSIZE); ++c) CPU_SET(c, &mask);
  info.cores = std::max(1, CPU_COUNT(&mask));
  std::vector<uint64_t> masks(static_cast<size_t>(kMaskWords) * info.local_size);
  std::memcpy(masks.data() + static_cast<size_t>(kMaskWords) * info.local_rank, &mask, sizeof mask);
  node->all_gather(masks.data() + static_cast<size_t>(kMaskWords) * info.local_rank, masks.data(), kMaskWords,
                   DType::i64);
  info.core_sharers = ranks_sharing_cores(masks.data(), info.local_size, kMaskWords, info.local_rank);
  info.gpus = cuda::device_count();
  info.gpu = info.gpus > 0 ? info.local_rank % info.gpus : -1;

  const std::string srun_hint =
      " (srun started independent copies: launch with `srun --mpi=pmix`, or use mpirun; see docs/cluster.md)";
  if (env.count("OMPI_COMM_WORLD_SIZE")) {
    // Started by mpirun/mpiexec: Open MPI's own variables are authoritative. SLURM_* describe the
    // enclosing allocation (an mpirun inside sbatch), not these ranks, so they are not compared.
    info.launcher = "mpirun";
    expect(env, "OMPI_COMM_WORLD_SIZE", info.size, "world size", "");
    expect(env, "OMPI_COMM_WORLD_RANK", info.rank, "rank", "");
    expect(env, "OMPI_COMM_WORLD_LOCAL_RANK", info.local_rank, "local rank", "");
  } else if (env.count("SLURM_PROCID") || env.count("SLURM_NTASKS") || env.count("SLURM_STEP_NUM_TASKS")) {
    info.launcher = "srun";
    expect(env, env.count("SLURM_STEP_NUM_TASKS") ? "SLURM_STEP_NUM_TASKS" : "SLURM_NTASKS", info.size, "world size",
           srun_hint);
    expect(env, "SLURM_PROCID", info.rank, "rank", srun_hint);
    expect(env, "SLURM_LOCALID", info.local_rank, "local rank", srun_hint);
  } else if (env.count("PMI_SIZE") || env.count("PMIX_RANK")) {
    info.launcher = "pmi";
  } else {
    info.launcher = info.size == 1 ? "single" : "mpi";
  }
  expect(env, "PMI_SIZE", info.size, "world size", "");
  expect(env, "PMI_RANK", info.rank, "rank", "");
  expect(env, "PMIX_RANK", info.rank, "rank", "");
  expect(env, "WORLD_SIZE", info.size, "world size", " (WORLD_SIZE is set by torchrun-style launchers)");
  expect(env, "RANK", info.rank, "rank", "");
  if (info.launcher == "single" && env.count("WORLD_SIZE")) info.launcher = "env";
  return info;
}

}  // namespace weft::par
