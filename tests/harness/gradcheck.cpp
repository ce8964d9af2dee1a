// Gradient checker implementation.
#include "tests/harness/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "runtime/rng.h"

namespace weft::test {

OwnedTensor random_f64(Shape shape, uint64_t seed, double lo, double hi) {
  OwnedTensor t(DType::f64, shape);
  Rng rng(seed, 7);
  for (int64_t i = 0; i < t.numel(); ++i) t.ptr<double>()[i] = lo + (hi - lo) * rng.uniform();
  return t;
}

OwnedTensor random_f32(Shape shape, uint64_t seed, double lo, double hi) {
  OwnedTensor t(DType::f32, shape);
  Rng rng(seed, 7);
  for (int64_t i = 0; i < t.numel(); ++i) t.ptr<float>()[i] = static_cast<float>(lo + (hi - lo) * rng.uniform());
  return t;
}

OwnedTensor random_ids(Shape shape, uint64_t seed, int32_t hi) {
  OwnedTensor t(DType::i32, shape);
  Rng rng(seed, 9);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.ptr<int32_t>()[i] = std::min<int32_t>(hi - 1, static_cast<int32_t>(rng.uniform() * hi));
  return t;
}

OwnedTensor from_values(DType dt, Shape shape, const std::vector<double>& values) {
  OwnedTensor t(dt, shape);
  WEFT_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "[from_values] ", values.size(),
             " values for shape ", shape.str());
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (dt == DType::f64) t.ptr<double>()[i] = values[i];
    else if (dt == DType::f32) t.ptr<float>()[i] = static_cast<float>(values[i]);
    else if (dt == DType::i32) t.ptr<int32_t>()[i] = static_cast<int32_t>(values[i]);
    else WEFT_FAIL("[from_values] unsupported dtype");
  }
  return t;
}

std::vector<double> to_host_doubles(const Tensor& t) {
  std::vector<char> raw(t.nbytes());
  device_copy(Device::cpu, raw.data(), t.device, t.data, t.nbytes());
  std::vector<double> out(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (t.dtype) {
      case DType::f64: out[i] = reinterpret_cast<double*>(raw.data())[i]; break;
      case DType::f32: out[i] = reinterpret_cast<float*>(raw.data())[i]; break;
      case DType::bf16: out[i] = reinterpret_cast<bf16*>(raw.data())[i].to_float(); break;
      case DType::i32: out[i] = reinterpret_cast<int32_t*>(raw.data())[i]; break;
      case DType::i64: out[i] = static_cast<double>(reinterpret_cast<int64_t*>(raw.data())[i]); break;
    }
  }
  return out;
}

namespace {

// sum_o <R_o, out_o> without recording a tape.
double objective(std::vector<GradInput>& inputs, const BuildFn& build, const std::vector<OwnedTensor>& cot) {
  Exec ex = cpu_exec(1);
  Arena arena(Device::cpu);
  Graph g(ex, arena);
  g.grad_enabled = false;
  std::vector<Var> leaves;
  for (auto& in : inputs) leaves.push_back(g.constant(in.value));
  std::vector<Var> outs = build(g, leaves);
  double total = 0.0;
  for (size_t o = 0; o < outs.size(); ++o) {
    const Tensor& v = outs[o]->value;
    if (!dtype_is_float(v.dtype)) continue;
    for (int64_t i = 0; i < v.numel(); ++i) total += v.ptr<double>()[i] * cot[o].ptr<double>()[i];
  }
  return total;
}

}  // namespace

GradCheckResult gradcheck(std::vector<GradInput>& inputs, const BuildFn& build, double eps, int max_elements,
                          uint64_t seed) {
  Exec ex = cpu_exec(1);
  Arena arena(Device::cpu);
  Graph g(ex, arena);
  std::vector<Var> leaves;
  for (auto& in : inputs) {
    bool diff = in.differentiable && dtype_is_float(in.value.tensor().dtype);
    leaves.push_back(g.input(in.value, diff));
  }
  std::vector<Var> outs = build(g, leaves);

  std::vector<OwnedTensor> cot;
  std::vector<Tensor> seeds;
  for (size_t o = 0; o < outs.size(); ++o) {
    const Tensor& v = outs[o]->value;
    WEFT_CHECK(v.dtype == DType::f64 || !dtype_is_float(v.dtype), "[gradcheck] outputs must be f64, got ", v.str());
    cot.push_back(random_f64(v.shape, seed * 1000 + o, -1.0, 1.0));
    seeds.push_back(cot.back());
  }
  std::vector<Var> float_outs;
  std::vector<Tensor> float_seeds;
  for (size_t o = 0; o < outs.size(); ++o)
    if (dtype_is_float(outs[o]->value.dtype)) {
      float_outs.push_back(outs[o]);
      float_seeds.push_back(seeds[o]);
    }
  g.backward(float_outs, float_seeds);

  GradCheckResult res;
  Rng pick(seed, 11);
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!leaves[k]->requires_grad) continue;
    Tensor x = inputs[k].value;
    int64_t n = x.numel();
    std::vector<double> analytic(n, 0.0);
    if (leaves[k]->grad.defined())
      for (int64_t i = 0; i < n; ++i) analytic[i] = leaves[k]->grad.ptr<double>()[i];

    std::vector<int64_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    if (n > max_elements) {
      for (int64_t i = 0; i < max_elements; ++i) std::swap(idx[i], idx[i + pick.next_u64() % (n - i)]);
      idx.resize(max_elements);
    }
    double max_err = 0.0, max_num = 0.0;
    for (int64_t i : idx) {
      double* p = x.ptr<double>() + i;
      double saved = *p;
      *p = saved + eps;
      double fp = objective(inputs, build, cot);
      *p = saved - eps;
      double fm = objective(inputs, build, cot);
      *p = saved;
      double numeric = (fp - fm) / (2 * eps);
      max_err = std::max(max_err, std::fabs(numeric - analytic[i]));
      max_num = std::max(max_num, std::fabs(numeric));
    }
    double rel = max_num > 0 ? max_err / max_num : max_err;
    res.max_rel_error = std::max(res.max_rel_error, rel);
    char line[200];
    std::snprintf(line, sizeof line, "input %zu %s: rel %.2e over %zu elements (max |grad| %.3g)\n", k,
                  x.shape.str().c_str(), rel, idx.size(), max_num);
    res.report += line;
  }
  return res;
}

}  // namespace weft::test
