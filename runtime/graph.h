// Graph: the reverse-mode autograd tape of one training step.
// Ops (runtime/ops/) compute their forward result immediately, put outputs in the step's Arena, and
// record a backward closure here. backward(loss) runs the closures in reverse. Every backward kernel
// ACCUMULATES (+=) into input gradients, so a parameter or activation used several times in a step
// (shared layers, residual streams) needs nothing special. Nodes and closures live in the Graph's own
// host arena; clear() releases the whole step at once (no per-op frees, no malloc after step one).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/arena.h"
#include "runtime/exec.h"

namespace weft {

class ParamStore;

struct Node {
  Tensor value;
  Tensor grad;                // allocated (zeroed) on first use; for parameters, the ParamStore's slot
  bool requires_grad = false;
  Node* view_of = nullptr;    // a reshape: its gradient is view_of's, reshaped, resolved on first use
};
using Var = Node*;

class Graph {
 public:
  Graph(Exec& ex, Arena& tensors);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  Exec& exec() { return ex_; }
  Arena& arena() { return tensors_; }
  Device device() const { return tensors_.device(); }

  // Leaves.
  Var constant(const Tensor& value);                      // never receives a gradient
  Var leaf(const Tensor& value, const Tensor& grad);      // gradient accumulates into `grad`
  Var param(ParamStore& store, int id);                   // leaf over a parameter and its grad slot
  Var input(const Tensor& value, bool requires_grad);     // gradient allocated on demand

  // For op front-ends.
  Tensor alloc(DType dt, Shape shape) { return tensors_.tensor(dt, shape); }
  Tensor zeros(DType dt, Shape shape);  // zero-filled, ordered with the kernels of exec()
  bool needs_grad(std::initializer_list<Var> inputs) const;
  Var output(const Tensor& value, bool requires_grad);    // an op result
  Tensor grad(Var v);                                     // v's gradient, allocated zeroed if absent
  // v's gradient for a backward that writes every element of it: when v has none yet, an uninitialised tensor
  // and beta = 0 (the op overwrites, no zero-fill pass first), else the one holding earlier contributions and
  // beta = 1 (the op accumulates). Ops whose kernels can only accumulate use grad().
  Tensor grad_to_write(Var v, float& beta);
  // Makes `g` (v's shape, or its base's for a view) v's gradient when v has none yet, so an op that computed
  // its input's gradient ahead (cross-entropy in the forward) hands it over without a copy; false, and
  // nothing changes, when v already holds contributions.
  bool adopt_grad(Var v, const Tensor& g);

  // Record a backward closure; it runs during backward() only if the output got a gradient.
  template <class F>
  void record(Var out, F&& backward);

  // Seed d(loss)/d(loss) = 1 for a one-element loss and run the tape in reverse.
  void backward(Var loss);
  // Run the tape with given output gradients (seeds[i] is d(objective)/d(outputs[i])), as the gradient
  // checker does for ops with non-scalar outputs.
  void backward(const std::vector<Var>& outputs, const std::vector<Tensor>& seeds);
  // Drop the tape and free every tensor of the step (parameter memory is not touched).
  void clear();

  bool grad_enabled = true;

  // Gradient-ready tracking (data-parallel buckets reduce while the backward still runs): param() notes
  // the tape position at which each parameter entered the step; no earlier tape entry can use it, so its
  // gradient is final once the backward has run every entry at or above that position. The hook is
  // called after each tape position i during backward (descending), and once with i = 0 at the end.
  const std::vector<std::pair<int, size_t>>& param_positions() const { return param_positions_; }
  void set_backward_hook(void (*hook)(void*, size_t), void* ctx) {
    hook_ = hook;
    hook_ctx_ = ctx;
  }
  int64_t system_allocations() const { return meta_.system_allocations() + tape_allocs_; }

 private:
  struct Entry {
    Var out;
    void (*run)(void*);
    void (*destroy)(void*);
    void* closure;
  };

  void run_tape();

  Exec& ex_;
  Arena& tensors_;
  Arena meta_;                // nodes and closures (host memory)
  std::vector<Entry> tape_;
  int64_t tape_allocs_ = 0;   // times the tape vector grew
  std::vector<std::pair<int, size_t>> param_positions_;  // (parameter id, tape size when it entered)
  void (*hook_)(void*, size_t) = nullptr;
  void* hook_ctx_ = nullptr;
};

template <class F>
void Graph::record(Var out, F&& backward) {
  using Fn = std::decay_t<F>;
  if (!out->requires_grad) return;
  void* mem = meta_.alloc(sizeof(Fn), alignof(Fn) < 16 ? 16 : alignof(Fn));
  Fn* fn = new (mem) Fn(std::forward<F>(backward));
  if (tape_.size() == tape_.capacity()) ++tape_allocs_;
  tape_.push_back(Entry{out, [](void* p) { (*static_cast<Fn*>(p))(); },
                        [](void* p) { static_cast<Fn*>(p)->~Fn(); }, fn});
}

}  // namespace weft
