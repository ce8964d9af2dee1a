// Graph implementation: node creation, lazy gradients, the reverse pass.
#include "runtime/graph.h"

#include "runtime/kernels.h"

#include "runtime/param_store.h"

namespace weft {

Graph::Graph(Exec& ex, Arena& tensors) : ex_(ex), tensors_(tensors), meta_(Device::cpu, size_t(1) << 16) {
  tape_.reserve(256);
  param_positions_.reserve(256);
}

Graph::~Graph() { clear(); }

Var Graph::constant(const Tensor& value) { return output(value, false); }

Var Graph::input(const Tensor& value, bool requires_grad) { return output(value, requires_grad); }

Var Graph::leaf(const Tensor& value, const Tensor& grad) {
  check_same_shape("Graph::leaf", value, grad);
  Var v = output(value, true);
  v->grad = grad;
  return v;
}

Var Graph::param(ParamStore& store, int id) {
  if (grad_enabled) param_positions_.emplace_back(id, tape_.size());
  return leaf(store.value(id), store.grad(id));
}

bool Graph::needs_grad(std::initializer_list<Var> inputs) const {
  if (!grad_enabled) return false;
  for (Var v : inputs)
    if (v && v->requires_grad) return true;
  return false;
}

Var Graph::output(const Tensor& value, bool requires_grad) {
  void* mem = meta_.alloc(sizeof(Node), alignof(Node));
  Var v = new (mem) Node();
  v->value = value;
  v->requires_grad = requires_grad && grad_enabled;
  return v;
}

Tensor Graph::zeros(DType dt, Shape shape) {
  Tensor t = tensors_.tensor(dt, shape);
  WEFT_LAUNCH(ex_, fill_zero, ex_, t.data, static_cast<int64_t>(t.nbytes()));
  return t;
}

Tensor Graph::grad(Var v) {
  if (!v->grad.defined())
    v->grad = v->view_of ? grad(v->view_of).reshape(v->value.shape) : zeros(v->value.dtype, v->value.shape);
  return v->grad;
}

Tensor Graph::grad_to_write(Var v, float& beta) {
  beta = v->grad.defined() ? 1.0f : 0.0f;
  if (!v->grad.defined())  // a view covers all of its base, so writing it whole writes the base whole
    v->grad = v->view_of ? grad_to_write(v->view_of, beta).reshape(v->value.shape)
                         : tensors_.tensor(v->value.dtype, v->value.shape);
  return v->grad;
}

bool Graph::adopt_grad(Var v, const Tensor& g) {
  if (v->grad.defined()) return false;
  if (v->view_of) {  // a view's gradient is its base's
    if (!adopt_grad(v->view_of, g.reshape(v->view_of->value.shape))) return false;
    v->grad = v->view_of->grad.reshape(v->value.shape);
    return true;
  }
  check_same_shape("Graph::adopt_grad", v->value, g);
  v->grad = g;
  return true;
}

void Graph::backward(Var loss) {
  WEFT_CHECK(loss->value.numel() == 1, "[backward] the loss must have one element, got ", loss->value.str());
  WEFT_CHECK(loss->requires_grad, "[backward] the loss does not depend on anything that requires a gradient");
  Tensor g = grad(loss);
  double one_d = 1.0;
  float one_f = 1.0f;
  bf16 one_b = bf16::from_float(1.0f);
  const void* src = g.dtype == DType::f64 ? static_cast<const void*>(&one_d)
                    : g.dtype == DType::bf16 ? static_cast<const void*>(&one_b)
                                             : static_cast<const void*>(&one_f);
  device_copy(g.device, g.data, Device::cpu, src, dtype_size(g.dtype));
  run_tape();
}

void Graph::backward(const std::vector<Var>& outputs, const std::vector<Tensor>& seeds) {
  WEFT_CHECK(outputs.size() == seeds.size(), "[backward] ", outputs.size(), " outputs but ", seeds.size(), " seeds");
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i]->requires_grad) continue;
    Tensor g = grad(outputs[i]);
    check_same_shape("backward", g, seeds[i]);
    check_same_device_dtype("backward", g, seeds[i]);
    device_copy(g.device, g.data, seeds[i].device, seeds[i].data, g.nbytes());
  }
  run_tape();
}

void Graph::run_tape() {
  for (size_t i = tape_.size(); i-- > 0;) {
    const Entry& e = tape_[i];
    if (e.out->grad.defined()) e.run(e.closure);
    if (hook_) hook_(hook_ctx_, i);
  }
  if (hook_) hook_(hook_ctx_, 0);
}

void Graph::clear() {
  for (auto& e : tape_) e.destroy(e.closure);
  tape_.clear();
  param_positions_.clear();
  hook_ = nullptr;
  meta_.reset();
  tensors_.reset();
}

}  // namespace weft
