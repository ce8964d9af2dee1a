// A checkpoint folder opened for reading, verified against its manifest before HDF5 parses anything: the
// main file (rank_00000.h5) and, for a checkpoint saved with --expert-parallel E > 1, its expert shard files
// (experts_<shard>.h5, each holding the global rows [begin, end) of every sharded tensor under the tensor's
// logical dataset name, with attributes logical_name, row_range and logical_shape; docs/checkpoint-format.md).
// Readers address tensors by logical dataset name (params/<name>, optim/m/<name>, state/..., data/...)
// whichever file holds them; the rows of a sharded tensor come from whichever shard files cover them, so
// any layout (any E, or one process assembling whole tensors) reads any checkpoint. Also the writer's half
// of the shard-file format (write_shard_rows), so both sides live in one place.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/checkpoint/h5.h"

namespace weft::ckpt {

inline constexpr const char* kMainFile = "rank_00000.h5";
std::string expert_shard_file(int shard);  // "experts_00000.h5"

// Writes rows [begin, begin + local[0]) of a logical tensor of shape `logical` into a shard file under the
// logical dataset name, with the attributes logical_name (`name` without its group), row_range [begin, end)
// and logical_shape.
void write_shard_rows(H5File& f, const std::string& dataset, DType dt, const Shape& local, int64_t begin,
                      const Shape& logical, const void* host_data);

class CheckpointReader {
 public:
  // Verifies `dir` against its manifest (errors name the folder, file and dataset), then opens the main file
  // and every shard file it names (root attribute expert_shard_files; absent in older checkpoints: none)
  // and indexes their row ranges (a gap, an overlap or disagreeing shapes are errors naming the file).
  explicit CheckpointReader(const std::string& dir);

  const H5File& main() const { return main_; }
  const std::string& dir() const { return dir_; }
  int shard_files() const { return static_cast<int>(shards_.size()); }

  std::vector<std::string> dataset_names() const;  // every logical dataset, sorted
  bool has(const std::string& name) const;
  bool sharded(const std::string& name) const { return sharded_.count(name) > 0; }
  Shape shape_of(const std::string& name) const;  // the logical shape
  DType dtype_of(const std::string& name) const;
  // Rows [begin, begin + count) along dim 0 of a logical tensor of rank >= 1, from the file(s) holding them.
  void read_rows(const std::string& name, DType dt, int64_t begin, int64_t count, void* host_data) const;
  // The whole logical tensor, which must have shape `expected`.
  void read(const std::string& name, DType dt, const Shape& expected, void* host_data) const;

 private:
  struct Piece {
    int file = 0;
    int64_t begin = 0, end = 0;
  };
  struct Sharded {
    Shape shape;
    DType dtype = DType::f32;
    std::vector<Piece> pieces;  // sorted by begin, exactly covering [0, shape[0])
  };
  std::string dir_;
  H5File main_;
  std::vector<H5File> shards_;
  std::map<std::string, Sharded> sharded_;
};

}  // namespace weft::ckpt
