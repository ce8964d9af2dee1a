// ParamStore: every parameter of a model and its gradient, each in one contiguous buffer.
// Parameters are declared by name (add), then finalize() lays them out (64-byte aligned slots) and
// allocates the value and gradient buffers once. Names address parameters in checkpoints; the flat
// buffers are what data-parallel buckets and the optimizer walk. A layer used many times in a step
// (universal transformers) is one parameter whose gradient slot accumulates every use.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/memory.h"

namespace weft {

struct Init {
  enum Kind { zeros, ones, constant, normal, uniform } kind = zeros;
  double a = 0.0;  // normal: std; uniform: half-width; constant: the value
  // Zero every element above the diagonal of the last two dims (masked mixers' causal matrices); the
  // other elements get the values they would have without the mask.
  bool lower_triangular = false;
  // After drawing, rescale the rows of the last dim (MoEUT's selector inits, spec moeut A.6; torch.std is
  // the unbiased estimate):
  //   keep_std:     every row to unit norm, then the whole tensor rescaled to its pre-renorm std
  //                 (moeut.py renorm_keep_std(dim=1): all rows end with equal norm);
  //   row_std:      every row to unit norm, times its own pre-renorm std over the std of the whole
  //                 unit-row tensor (moeut.py renorm_rows).
  enum Renorm { none, keep_std, row_std } renorm = none;
  Init renormed(Renorm r) const {
    Init i = *this;
    i.renorm = r;
    return i;
  }
  Init tril() const {
    Init i = *this;
    i.lower_triangular = true;
    return i;
  }
  static Init Zeros() { return {zeros, 0.0}; }
  static Init Ones() { return {ones, 1.0}; }
  static Init Constant(double v) { return {constant, v}; }
  static Init Normal(double std) { return {normal, std}; }
  static Init Uniform(double half_width) { return {uniform, half_width}; }
};

// Which parallel layout a parameter follows: dense parameters are replicated (or ZeRO-sharded) over the
// data-parallel ranks; expert parameters are sharded over the expert-parallel group (MoE experts).
enum class ParamGroup { dense, expert };
const char* param_group_name(ParamGroup g);

// Rows [begin, begin + shape[0]) of a logical tensor with `rows` rows along dim 0 (the rest of its shape is
// the local shape's): an expert-parallel rank holds only its experts. Initialisation draws the whole
// logical tensor and keeps the slice, so the values do not depend on how it is split; checkpoints store
// the slice under the logical name with its range. rows == 0: not sharded.
struct ShardOf {
  int64_t begin = 0, rows = 0;
  bool sharded() const { return rows > 0; }
};

struct ParamInfo {
  std::string name;
  Shape shape;
  int64_t offset = 0;     // in elements, into the flat value/grad buffers
  Init init;
  bool weight_decay = true;  // AdamW applies decoupled decay only where true (not norms, biases)
  ParamGroup group = ParamGroup::dense;
  ShardOf shard;  // not sharded by default
  // The logical (unsharded) shape: shape with dim 0 = shard.rows when sharded.
  Shape full_shape() const {
    Shape s = shape;
    if (shard.sharded()) s[0] = shard.rows;
    return s;
  }
};

class ParamStore {
 public:
  explicit ParamStore(DType dt = DType::f32, Device dev = Device::cpu) : dtype_(dt), dev_(dev) {}

  // Declare a parameter; names are unique. Only before finalize().
  int add(const std::string& name, Shape shape, Init init, bool weight_decay = true,
          ParamGroup group = ParamGroup::dense, ShardOf shard = {});
  // Allocate values and gradients (zeroed). The flat size is padded to a multiple of total_multiple
  // (ZeRO-1 splits it into equal shards, one per rank); padding stays zero.
  void finalize(int64_t total_multiple = 1);
  void initialize(uint64_t seed);         // run every initialiser; a parameter's values depend only
                                          // on (seed, its name, its logical shape), not on declaration
                                          // order or sharding
  void zero_grads();
  // A finalized store with this one's parameters at the same element offsets, in another dtype (zeroed):
  // the compute-precision copy of mixed-precision training (runtime/optim/mixed_precision.h).
  ParamStore mirror(DType dt) const;

  int size() const { return static_cast<int>(params_.size()); }
  int find(const std::string& name) const;  // -1 when absent
  const ParamInfo& info(int id) const { return params_[id]; }
  Tensor value(int id) const;
  Tensor grad(int id) const;
  Tensor values() const;   // flat (total,), including alignment padding (always zero)
  Tensor grads() const;
  int64_t numel() const;   // real parameter count (no padding)
  int64_t total() const { return total_; }
  DType dtype() const { return dtype_; }
  Device device() const { return dev_; }
  bool finalized() const { return finalized_; }

 private:
  Tensor slot(const Buffer& buf, int id) const;

  DType dtype_;
  Device dev_;
  std::vector<ParamInfo> params_;
  std::unordered_map<std::string, int> by_name_;
  int64_t total_ = 0;
  bool finalized_ = false;
  Buffer values_, grads_;
};

}  // namespace weft
