// Shared by tests/cli/test_analyze_receptive.cpp and test_analyze_receptive_mpi.cpp: a tiny trained run of
// each registered family case (seq-len 16, built-in corpus), the `weft analyze receptive-field` command line,
// and its HDF5 file read back (/length_<L>/{g_hat, cumulative, window_starts} and the group attributes).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "runtime/checkpoint/h5.h"
#include "tests/cli/family_runs.h"

namespace weft::test {

struct ReceptiveLength {
  int64_t length = 0, sequences = 0, receptive_field = 0;
  double threshold = 0.0;
  std::vector<double> g_hat, cumulative;  // (L)
  std::vector<int64_t> window_starts;     // (S)
};

inline std::map<int64_t, ReceptiveLength> read_receptive(const std::string& path) {
  std::map<int64_t, ReceptiveLength> out;
  const ckpt::H5File f = ckpt::H5File::open_read(path);
  for (const std::string& name : f.dataset_names()) {
    if (name.rfind("length_", 0) != 0 || name.find("/g_hat") == std::string::npos) continue;
    const std::string group = name.substr(0, name.find('/'));
    ReceptiveLength r;
    r.length = std::stoll(group.substr(7));
    r.sequences = f.object_attr_int(group, "sequences");
    r.receptive_field = f.object_attr_int(group, "receptive_field");
    r.threshold = f.object_attr_double(group, "threshold");
    r.g_hat.resize(static_cast<size_t>(r.length));
    r.cumulative.resize(static_cast<size_t>(r.length));
    r.window_starts.resize(static_cast<size_t>(r.sequences));
    f.read(group + "/g_hat", DType::f64, {r.length}, r.g_hat.data());
    f.read(group + "/cumulative", DType::f64, {r.length}, r.cumulative.data());
    f.read(group + "/window_starts", DType::i64, {r.sequences}, r.window_starts.data());
    out[r.length] = std::move(r);
  }
  return out;
}

// Prepares the built-in corpus in `dir`/data and trains every family case for 2 steps into dir/<case>.
// Returns "" or the first failure's output.
inline std::string train_family_runs(const std::string& dir) {
  ProcessResult r =
      run_shell(std::string(WEFT_BINARY) + " prepare --builtin stories --tokens 60000 --out " + dir + "/data");
  if (r.code != 0) return r.out;
  for (const FamilyCase& c : family_cases()) {
    r = run_shell(std::string(WEFT_BINARY) + " train --data " + dir + "/data --out " + dir + "/" +
                  family_case_name(c) + family_args(c) +
                  " --batch-size 2 --threads 1 --steps 2 --warmup 1 --eval-every 0 --eval-batches 0 --log-every 1"
                  " --save-every 2 --seed 3");
    if (r.code != 0) return family_case_name(c) + ": " + r.out;
  }
  return "";
}

// The analysis of a family case's run (lengths within the training length 16), written to `out`.
inline std::string receptive_command(const std::string& dir, const FamilyCase& c, const std::string& out,
                                     const std::string& extra = "") {
  return std::string(WEFT_BINARY) + " analyze receptive-field --checkpoint " + dir + "/" + family_case_name(c) +
         " --lengths 8,16 --sequences 6 --batch-size 4 --threads 1 --device cpu --out " + out + " " + extra;
}

}  // namespace weft::test
