// ParamStore implementation: layout, initialisers (Philox, keyed by parameter name).
#include "runtime/param_store.h"

#include <cmath>
#include <vector>

#include "runtime/rng.h"

namespace weft {

namespace {
constexpr int64_t kAlignElems = 16;

uint32_t name_hash(const std::string& s) {  // FNV-1a
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}
// torch.Tensor.std(): the unbiased standard deviation of v.
double unbiased_std(const double* v, int64_t n) {
  if (n < 2) return 0.0;
  double mean = 0.0, ss = 0.0;
  for (int64_t i = 0; i < n; ++i) mean += v[i];
  mean /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) ss += (v[i] - mean) * (v[i] - mean);
  return std::sqrt(ss / static_cast<double>(n - 1));
}

// The renorm step of Init (see param_store.h) over rows of `cols` elements.
void renorm_rows(std::vector<double>& v, int64_t cols, Init::Renorm mode) {
  const int64_t n = static_cast<int64_t>(v.size()), rows = n / cols;
  const double std_before = unbiased_std(v.data(), n);
  std::vector<double> row_std(rows);
  for (int64_t r = 0; r < rows; ++r) {
    double* row = v.data() + r * cols;
    row_std[r] = unbiased_std(row, cols);
    double norm = 0.0;
    for (int64_t c = 0; c < cols; ++c) norm += row[c] * row[c];
    norm = std::sqrt(norm);
    for (int64_t c = 0; c < cols; ++c) row[c] /= norm;
  }
  const double std_unit = unbiased_std(v.data(), n);
  for (int64_t r = 0; r < rows; ++r) {
    const double f = mode == Init::keep_std ? std_before / std_unit : row_std[r] / std_unit;
    for (int64_t c = 0; c < cols; ++c) v[r * cols + c] *= f;
  }
}
}  // namespace

const char* param_group_name(ParamGroup g) { return g == ParamGroup::expert ? "expert" : "dense"; }

int ParamStore::add(const std::string& name, Shape shape, Init init, bool weight_decay, ParamGroup group,
                    ShardOf shard) {
  WEFT_CHECK(!finalized_, "[ParamStore::add] '", name, "' declared after finalize()");
  WEFT_CHECK(!by_name_.count(name), "[ParamStore::add] duplicate parameter name '", name, "'");
  WEFT_CHECK(shape.numel() > 0, "[ParamStore::add] '", name, "' has empty shape ", shape.str());
  if (shard.sharded())
    WEFT_CHECK(shape.rank >= 1 && shard.begin >= 0 && shard.begin + shape[0] <= shard.rows,
               "[ParamStore::add] '", name, "': rows [", shard.begin, ", ", shard.begin + shape[0],
               ") are not inside the ", shard.rows, " rows of the logical tensor");
  ParamInfo p{name, shape, total_, init, weight_decay, group, shard};
  total_ += (shape.numel() + kAlignElems - 1) / kAlignElems * kAlignElems;
  by_name_[name] = static_cast<int>(params_.size());
  params_.push_back(p);
  return static_cast<int>(params_.size()) - 1;
}

void ParamStore::finalize(int64_t total_multiple) {
  WEFT_CHECK(!finalized_, "[ParamStore::finalize] called twice");
  WEFT_CHECK(total_multiple >= 1, "[ParamStore::finalize] bad multiple ", total_multiple);
  total_ = (total_ + total_multiple - 1) / total_multiple * total_multiple;
  WEFT_CHECK(dtype_is_float(dtype_), "[ParamStore] parameters must be floating point");
  size_t bytes = static_cast<size_t>(total_) * dtype_size(dtype_);
  values_ = Buffer(dev_, bytes);
  grads_ = Buffer(dev_, bytes);
  device_zero(dev_, values_.data(), bytes);
  device_zero(dev_, grads_.data(), bytes);
  finalized_ = true;
}

void ParamStore::initialize(uint64_t seed) {
  WEFT_CHECK(finalized_, "[ParamStore::initialize] call finalize() first");
  for (int id = 0; id < size(); ++id) {
    const ParamInfo& p = params_[id];
    const Shape full = p.full_shape();
    const int64_t n_full = full.numel(), n = p.shape.numel();
    std::vector<double> host(n_full);
    Rng rng(seed, name_hash(p.name));
    for (int64_t i = 0; i < n_full; ++i) {
      switch (p.init.kind) {
        case Init::zeros: host[i] = 0.0; break;
        case Init::ones: host[i] = 1.0; break;
        case Init::constant: host[i] = p.init.a; break;
        case Init::normal: host[i] = p.init.a * rng.normal(); break;
        case Init::uniform: host[i] = p.init.a * (2.0 * rng.uniform() - 1.0); break;
      }
    }
    if (p.init.lower_triangular) {
      WEFT_CHECK(full.rank >= 2, "[ParamStore::initialize] '", p.name, "': a lower-triangular init needs 2 dims");
      const int64_t rows = full[full.rank - 2], cols = full[full.rank - 1];
      for (int64_t i = 0; i < n_full; ++i)
        if (i % cols > (i / cols) % rows) host[i] = 0.0;
    }
    if (p.init.renorm != Init::none) renorm_rows(host, full[full.rank - 1], p.init.renorm);
    if (p.shard.sharded()) {  // keep this rank's rows of the logical tensor
      const int64_t row = n / p.shape[0];
      host = std::vector<double>(host.begin() + p.shard.begin * row, host.begin() + p.shard.begin * row + n);
    }
    Tensor v = value(id);
    if (dtype_ == DType::f64) {
      device_copy(dev_, v.data, Device::cpu, host.data(), n * sizeof(double));
    } else if (dtype_ == DType::f32) {
      std::vector<float> f(host.begin(), host.end());
      device_copy(dev_, v.data, Device::cpu, f.data(), n * sizeof(float));
    } else {
      std::vector<bf16> b(n);
      for (int64_t i = 0; i < n; ++i) b[i] = bf16::from_float(static_cast<float>(host[i]));
      device_copy(dev_, v.data, Device::cpu, b.data(), n * sizeof(bf16));
    }
  }
}

void ParamStore::zero_grads() {
  WEFT_CHECK(finalized_, "[ParamStore::zero_grads] call finalize() first");
  device_zero(dev_, grads_.data(), grads_.bytes());
}

ParamStore ParamStore::mirror(DType dt) const {
  WEFT_CHECK(finalized_, "[ParamStore::mirror] call finalize() first");
  ParamStore m(dt, dev_);
  m.params_ = params_;
  m.by_name_ = by_name_;
  m.total_ = total_;
  m.finalize(1);  // total_ is already padded; the element offsets carry over unchanged
  return m;
}

int ParamStore::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

Tensor ParamStore::slot(const Buffer& buf, int id) const {
  WEFT_CHECK(finalized_, "[ParamStore] call finalize() before using parameters");
  WEFT_CHECK(id >= 0 && id < size(), "[ParamStore] no parameter with id ", id);
  Tensor t;
  t.dtype = dtype_;
  t.device = dev_;
  t.shape = params_[id].shape;
  t.data = static_cast<char*>(buf.data()) + params_[id].offset * dtype_size(dtype_);
  return t;
}

Tensor ParamStore::value(int id) const { return slot(values_, id); }
Tensor ParamStore::grad(int id) const { return slot(grads_, id); }

Tensor ParamStore::values() const {
  Tensor t;
  t.dtype = dtype_;
  t.device = dev_;
  t.shape = Shape{total_};
  t.data = values_.data();
  return t;
}

Tensor ParamStore::grads() const {
  Tensor t = values();
  t.data = grads_.data();
  return t;
}

int64_t ParamStore::numel() const {
  int64_t n = 0;
  for (auto& p : params_) n += p.shape.numel();
  return n;
}

}  // namespace weft
