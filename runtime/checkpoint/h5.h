// A thin RAII layer over the HDF5 C API for checkpoints: one file, datasets addressed by slash paths
// ("params/blocks.0.attn.qkv.weight"; groups are created on demand), scalar attributes on the root.
// File locking is turned off (it breaks on NFS and Lustre); every error names the file and the object.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace weft::ckpt {

class H5File {
 public:
  static H5File create(const std::string& path);     // truncates
  static H5File open_read(const std::string& path);  // throws naming the file if it is not HDF5
  static H5File open_rw(const std::string& path);    // an existing file, to add datasets (diagnostics logs)
  H5File(H5File&& o) noexcept;
  H5File& operator=(H5File&& o) noexcept;
  H5File(const H5File&) = delete;
  ~H5File();
  void close();  // flushes; errors are thrown (destructor closes silently)

  // Datasets: raw host data of `dt` with a logical shape; attribute "dtype" records weft's dtype name
  // (bf16 is stored as uint16).
  void write(const std::string& name, DType dt, const Shape& shape, const void* host_data);
  bool has(const std::string& name) const;
  DType dtype_of(const std::string& name) const;
  Shape shape_of(const std::string& name) const;
  void read(const std::string& name, DType dt, const Shape& expected, void* host_data) const;
  // Rows [begin, begin + count) along dim 0 of a dataset of rank >= 1 (a hyperslab: only those rows are read).
  void read_rows(const std::string& name, DType dt, int64_t begin, int64_t count, void* host_data) const;
  std::vector<std::string> dataset_names() const;  // every dataset, full paths, sorted
  // Byte offset of a contiguous dataset's data in the file (for checksums over raw file ranges).
  int64_t data_offset(const std::string& name) const;

  void set_attr(const std::string& key, int64_t v);
  void set_attr(const std::string& key, double v);
  void set_attr(const std::string& key, const std::string& v);
  int64_t attr_int(const std::string& key) const;
  double attr_double(const std::string& key) const;
  std::string attr_string(const std::string& key) const;
  bool has_attr(const std::string& key) const;
  // Attributes of a dataset (expert shard files: logical_name, row_range, logical_shape).
  void set_dataset_attr(const std::string& dataset, const std::string& key, const std::vector<int64_t>& v);
  void set_dataset_attr(const std::string& dataset, const std::string& key, const std::string& v);
  void set_dataset_attr(const std::string& dataset, const std::string& key, double v);
  std::vector<int64_t> dataset_attr_ints(const std::string& dataset, const std::string& key) const;
  std::string dataset_attr_string(const std::string& dataset, const std::string& key) const;
  // Scalar attributes of any object (a group such as "length_128", or a dataset), by its path.
  void set_object_attr(const std::string& object, const std::string& key, int64_t v);
  void set_object_attr(const std::string& object, const std::string& key, double v);
  int64_t object_attr_int(const std::string& object, const std::string& key) const;
  double object_attr_double(const std::string& object, const std::string& key) const;
  double dataset_attr_double(const std::string& dataset, const std::string& key) const;

  const std::string& path() const { return path_; }

 private:
  H5File(int64_t id, std::string path) : id_(id), path_(std::move(path)) {}
  void write_scalar_attr(const std::string& key, int64_t type, const void* v);  // type: an hid_t
  void read_scalar_attr(const std::string& key, int64_t type, void* v) const;
  int64_t id_ = -1;
  std::string path_;
};

}  // namespace weft::ckpt
