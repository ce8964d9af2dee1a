// The model interface every architecture implements. Models declare named parameters in a ParamStore
// and build their forward pass from runtime ops on a Graph; they know nothing of MPI, NCCL or the
// trainer (parallelism is applied from outside, torchtitan style).
#pragma once

#include <cstdint>
#include <string>

#include "runtime/ops/ops.h"
#include "runtime/param_store.h"

namespace weft::models {

struct Batch {
  Tensor inputs;   // (B, T) i32 token ids
  Tensor targets;  // (B, T) i32 next tokens; ignore_index rows do not count
  float normalizer = 0.0f;  // > 0: divide the summed loss by this (the global target-token count)
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string name() const = 0;
  // Declare every parameter (names are the checkpoint names).
  virtual void declare(ParamStore& store) = 0;  // remembers the parameter ids it needs
  // Mean next-token cross-entropy of the batch (a one-element Var).
  virtual Var loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) = 0;
  // Logits (B, T, V) for ids (B, T), in evaluation mode (no dropout).
  virtual Var logits(Graph& g, ParamStore& store, const Tensor& ids) = 0;
  // Training FLOPs per token at context length T: 6N + 6 L T d (llm.c's convention; N excludes
  // position embeddings and counts the tied embedding once).
  virtual double flops_per_token(int64_t T) const = 0;
  virtual int64_t vocab_size() const = 0;
};

}  // namespace weft::models
