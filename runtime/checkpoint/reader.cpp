// CheckpointReader: the main file plus the expert shard files, indexed by logical dataset name and row range.
#include "runtime/checkpoint/reader.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "runtime/check.h"
#include "runtime/checkpoint/manifest.h"

namespace weft::ckpt {

namespace fs = std::filesystem;

std::string expert_shard_file(int shard) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "experts_%05d.h5", shard);
  return buf;
}

void write_shard_rows(H5File& f, const std::string& dataset, DType dt, const Shape& local, int64_t begin,
                      const Shape& logical, const void* host_data) {
  f.write(dataset, dt, local, host_data);
  const size_t slash = dataset.rfind('/');
  f.set_dataset_attr(dataset, "logical_name", slash == std::string::npos ? dataset : dataset.substr(slash + 1));
  f.set_dataset_attr(dataset, "row_range", std::vector<int64_t>{begin, begin + local[0]});
  f.set_dataset_attr(dataset, "logical_shape", std::vector<int64_t>(logical.dims.begin(), logical.dims.begin() + logical.rank));
}

namespace {
H5File open_verified(const std::string& dir) {
  WEFT_CHECK(fs::is_directory(dir), "[checkpoint] '", dir, "' is not a checkpoint folder");
  verify_checkpoint(dir);  // every file the manifest lists, shard files included, before HDF5 opens any
  return H5File::open_read(dir + "/" + kMainFile);
}
}  // namespace

CheckpointReader::CheckpointReader(const std::string& dir) : dir_(dir), main_(open_verified(dir)) {
  const int64_t n = main_.has_attr("expert_shard_files") ? main_.attr_int("expert_shard_files") : 0;
  WEFT_CHECK(n >= 0 && n <= (1 << 20), "[checkpoint] ", main_.path(), ": bad expert_shard_files ", n);
  const int64_t step = main_.attr_int("step");
  for (int k = 0; k < n; ++k) {
    const std::string path = dir + "/" + expert_shard_file(k);
    WEFT_CHECK(fs::exists(path), "[checkpoint] expert shard file '", path, "' does not exist (", main_.path(),
               " names ", n, " shard files)");
    shards_.push_back(H5File::open_read(path));
    const H5File& f = shards_.back();
    WEFT_CHECK(f.attr_int("shard") == k && f.attr_int("step") == step, "[checkpoint] '", path,
               "' is not shard ", k, " of step ", step, " (it says shard ", f.attr_int("shard"), " of step ",
               f.attr_int("step"), ")");
    for (const std::string& name : f.dataset_names()) {
      WEFT_CHECK(!main_.has(name), "[checkpoint] '", path, "': dataset '", name, "' is also in ", main_.path());
      const std::vector<int64_t> range = f.dataset_attr_ints(name, "row_range");
      const std::vector<int64_t> dims = f.dataset_attr_ints(name, "logical_shape");
      const Shape local = f.shape_of(name);
      Shape logical;
      bool ok = range.size() == 2 && !dims.empty() && dims.size() <= static_cast<size_t>(Shape::kMaxDims) &&
                local.rank == static_cast<int>(dims.size());
      for (size_t i = 0; ok && i < dims.size(); ++i) {
        logical.dims[logical.rank++] = dims[i];
        ok = dims[i] >= 0 && (i == 0 || dims[i] == local.dims[i]);
      }
      ok = ok && range[0] >= 0 && range[0] <= range[1] && range[1] <= dims[0] && range[1] - range[0] == local[0];
      WEFT_CHECK(ok, "[checkpoint] '", path, "': dataset '", name, "' of shape ", local.str(),
                 " has an inconsistent row_range / logical_shape");
      auto [it, fresh] = sharded_.try_emplace(name);
      if (fresh) {
        it->second.shape = logical;
        it->second.dtype = f.dtype_of(name);
      }
      WEFT_CHECK(it->second.shape == logical && it->second.dtype == f.dtype_of(name), "[checkpoint] '", path,
                 "': dataset '", name, "' has logical shape ", logical.str(), " (", dtype_name(f.dtype_of(name)),
                 "), another shard file says ", it->second.shape.str(), " (", dtype_name(it->second.dtype), ")");
      it->second.pieces.push_back({k, range[0], range[1]});
    }
  }
  for (auto& [name, s] : sharded_) {
    std::sort(s.pieces.begin(), s.pieces.end(), [](const Piece& a, const Piece& b) { return a.begin < b.begin; });
    int64_t next = 0;
    for (const Piece& p : s.pieces) {
      WEFT_CHECK(p.begin == next, "[checkpoint] ", dir, ": rows [", std::min(p.begin, next), ", ",
                 std::max(p.begin, next), ") of '", name, "' are ", p.begin > next ? "in no" : "in more than one",
                 " shard file (", expert_shard_file(p.file), " holds [", p.begin, ", ", p.end, "))");
      next = p.end;
    }
    WEFT_CHECK(next == s.shape[0], "[checkpoint] ", dir, ": rows [", next, ", ", s.shape[0], ") of '", name,
               "' are in no shard file");
  }
}

std::vector<std::string> CheckpointReader::dataset_names() const {
  std::vector<std::string> names = main_.dataset_names();
  for (const auto& [name, s] : sharded_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

bool CheckpointReader::has(const std::string& name) const { return sharded(name) || main_.has(name); }

Shape CheckpointReader::shape_of(const std::string& name) const {
  auto it = sharded_.find(name);
  return it != sharded_.end() ? it->second.shape : main_.shape_of(name);
}

DType CheckpointReader::dtype_of(const std::string& name) const {
  auto it = sharded_.find(name);
  return it != sharded_.end() ? it->second.dtype : main_.dtype_of(name);
}

void CheckpointReader::read_rows(const std::string& name, DType dt, int64_t begin, int64_t count,
                                 void* host_data) const {
  auto it = sharded_.find(name);
  if (it == sharded_.end()) return main_.read_rows(name, dt, begin, count, host_data);
  const Shape& s = it->second.shape;
  WEFT_CHECK(begin >= 0 && count >= 0 && begin + count <= s[0], "[checkpoint] ", dir_, ": '", name, "' of shape ",
             s.str(), " has no rows [", begin, ", ", begin + count, ")");
  const size_t row_bytes = static_cast<size_t>(s.numel() / std::max<int64_t>(s[0], 1)) * dtype_size(dt);
  for (const Piece& p : it->second.pieces) {
    const int64_t lo = std::max(begin, p.begin), hi = std::min(begin + count, p.end);
    if (lo >= hi) continue;
    shards_[static_cast<size_t>(p.file)].read_rows(name, dt, lo - p.begin, hi - lo,
                                                    static_cast<char*>(host_data) + (lo - begin) * row_bytes);
  }
}

void CheckpointReader::read(const std::string& name, DType dt, const Shape& expected, void* host_data) const {
  auto it = sharded_.find(name);
  if (it == sharded_.end()) return main_.read(name, dt, expected, host_data);
  WEFT_CHECK(it->second.shape == expected, "[checkpoint] ", dir_, ": '", name, "' has shape ",
             it->second.shape.str(), " but the model expects ", expected.str());
  read_rows(name, dt, 0, expected[0], host_data);
}

}  // namespace weft::ckpt
