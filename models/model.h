// The model interface every architecture implements. Models declare named parameters in a ParamStore
// and build their forward pass from runtime ops on a Graph; they know nothing of MPI, NCCL or the
// trainer (parallelism is applied from outside, torchtitan style; an expert-parallel model receives its
// exchange through the ParallelContext). Besides the four required methods, optional hooks have
// defaults that a plain LM (the transformer) does not override:
//   loss_terms()   named auxiliary terms next to the total (logged like the loss)
//   *_state()      state that lives across steps, keyed by global stream id, saved in checkpoints
//   stream_logits() evaluation logits over consecutive segments, with state (--pack segments)
//   max_seq_len()  the longest context the parameters support (eval/sample give clear errors)
//   taps           hidden states and sub-block outputs (and their gradients) for analysis commands
//   set_parallel() the parallel context (expert dispatch)
//   macs_per_token() forward MACs per token (`weft bench`; default flops_per_token / 6)
//   blocks_from_embeddings() / token_embeddings()  run every block from given input embeddings, and the
//                  token embedding matrix E (representation accuracy, spec A.9: `weft analyze represent`)
//   begin_decode() / decode()  a decode cache for sampling (the transformer's keys and values per layer)
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "models/parallel_context.h"
#include "models/taps.h"
#include "runtime/check.h"
#include "runtime/memory.h"
#include "runtime/ops/ops.h"
#include "runtime/param_store.h"

namespace weft::models {

struct Batch {
  Tensor inputs;   // (B, T) i32 token ids
  Tensor targets;  // (B, T) i32 next tokens; ignore_index rows do not count
  float normalizer = 0.0f;  // > 0: divide the summed loss by this (the global target-token count)
  // (B) host: the global stream id of each row (its position in the global step's batch, the same for any
  // rank count and split into micro-batches); null when the caller has no streams (evaluation, tests).
  const int64_t* streams = nullptr;
  // (B) host: 1 where this row's segment begins a new document (a model with memory resets the stream's
  // state first); null: unknown. Set with --pack segments (data/segments.h): 1 when the segment's FIRST token
  // begins a document or the stream's region; a document beginning inside a segment is not flagged, so a
  // model resets at segment granularity only.
  const uint8_t* starts = nullptr;
  // > 0: this batch's share of the global step, set by the trainer when the normalizer is not the step's
  // window-token count (--pack padded divides by the real targets); else derived from the normalizer.
  double share = 0.0;

  // Share of the global step's tokens in this batch: an auxiliary term computed per micro-batch enters
  // the total scaled by this, so accumulated gradients are those of its mean over micro-batches and ranks.
  double token_share() const {
    if (share > 0.0) return share;
    const double tokens = static_cast<double>(inputs.numel());
    return normalizer > 0.0f ? tokens / static_cast<double>(normalizer) : 1.0;
  }
};

// A named auxiliary term of the objective (a one-element Var): its value for this micro-batch, NOT scaled
// by token_share(). Whatever weight it has in the objective is already inside LossTerms::total. The trainer
// reports it as the mean over micro-batches and ranks, under its name, in metrics.jsonl and the progress line.
struct AuxTerm {
  std::string name;
  Var value = nullptr;
};

struct LossTerms {
  Var total;                // what backward() starts from: cross-entropy (normalised) + weighted aux terms
  std::vector<AuxTerm> aux;
};

// One tensor of model state (host memory). `stream` < 0: state shared by all streams.
struct StateTensor {
  int64_t stream = -1;
  std::string name;  // e.g. "carry"; the checkpoint stores it as state/stream_<id>/<name> (state/shared/<name>)
  OwnedTensor value;
};

// Incremental decoding (`weft sample`): what a family keeps per sequence to extend it by a few tokens
// without recomputing it (the transformer: keys and values per layer). `rows` sequences of up to `max_len`
// positions; lengths[r] = positions row r holds. A family's own cache derives from it.
struct DecodeCache {
  virtual ~DecodeCache() = default;
  int64_t max_len = 0;
  std::vector<int64_t> lengths;  // [row]
};

inline constexpr int64_t kUnboundedLength = std::numeric_limits<int64_t>::max();
// Evaluation streams (--pack segments in `weft eval` and the trainer's validation) have ids kEvalStreamBase + b,
// apart from the training streams, so evaluation never touches the training state (and is never saved).
inline constexpr int64_t kEvalStreamBase = int64_t(1) << 40;

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string name() const = 0;
  // Declare every parameter (names are the checkpoint names).
  virtual void declare(ParamStore& store) = 0;  // remembers the parameter ids it needs
  // Mean next-token cross-entropy of the batch (a one-element Var).
  virtual Var loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) = 0;
  // Logits (B, T, V) for ids (B, T), in evaluation mode (no dropout, no state read or written).
  virtual Var logits(Graph& g, ParamStore& store, const Tensor& ids) = 0;
  // Training FLOPs per token at context length T: 6N + 6 L T d (llm.c's convention; N excludes
  // position embeddings and counts the tied embedding once).
  virtual double flops_per_token(int64_t T) const = 0;
  virtual int64_t vocab_size() const = 0;

  // ---- optional hooks
  // The training objective with its named auxiliary terms; by default the loss alone.
  virtual LossTerms loss_terms(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) {
    return LossTerms{loss(g, store, batch, rng, training), {}};
  }
  // Longest sequence the parameters support (learned positions, a mixer's L x L matrices), or unbounded.
  virtual int64_t max_seq_len() const { return kUnboundedLength; }
  // Experts per MoE module (the logical count, before expert-parallel sharding); 0: no experts, so
  // --expert-parallel must stay 1. The trainer checks that E divides it before declare().
  virtual int64_t n_experts() const { return 0; }
  // Forward multiply-accumulates per token at context T for `weft bench`'s "MACs/token": by default
  // flops_per_token(T) / 6 (forward + backward = 3 x forward, 2 FLOPs per MAC), so it includes whatever
  // flops_per_token counts (the LM head included). Families compared against the MoEUT paper override it
  // with the spec's own count (moeut.md A.7: attention + FFN x L, no embedding, no LM head): moeut and the
  // transformer, which `weft bench` labels "spec A.7 formula" by family name.
  virtual double macs_per_token(int64_t T) const { return flops_per_token(T) / 6.0; }
  // Notes on the configuration for the trainer's "model <name> (<notes>): ..." line, e.g. the
  // transformer's "attention window 64"; empty: none.
  virtual std::string summary_notes() const { return {}; }

  // State across training steps (memories, caches of previous segments). Training calls of loss_terms
  // read and update the state of the streams in Batch::streams. save_state returns the streams this rank
  // holds; load_state receives every stream of a checkpoint (any rank count) and keeps what it needs.
  virtual bool has_state() const { return false; }
  virtual void reset_state() {}
  virtual std::vector<StateTensor> save_state() const { return {}; }
  virtual void load_state(const std::vector<StateTensor>& state) { (void)state; }
  // Logits (B, T, V) in evaluation mode for the next segments of evaluation streams (--pack segments):
  // batch.streams (ids >= kEvalStreamBase) and batch.starts are set; a model with state reads and updates
  // those streams' state (resetting where starts is 1, which every stream's first segment is). Default:
  // logits(batch.inputs), no state.
  virtual Var stream_logits(Graph& g, ParamStore& store, const Batch& batch) { return logits(g, store, batch.inputs); }

  // Incremental decoding: a cache for `rows` sequences of up to max_len positions (nullptr: the family has
  // none, the caller recomputes the whole window per token). decode() appends ids (B, n) i32 on the model's
  // device, item b to cache row rows[b] (empty rows: item b to row b), and returns the logits of the new
  // positions only (B, n, V), equal to those of logits() on each row's whole sequence; evaluation mode,
  // gradients disabled. Each row must have room: lengths[rows[b]] + n <= max_len.
  virtual std::unique_ptr<DecodeCache> begin_decode(ParamStore& store, Exec& ex, int64_t rows, int64_t max_len) {
    (void)store;
    (void)ex;
    (void)rows;
    (void)max_len;
    return nullptr;
  }
  virtual Var decode(Graph& g, ParamStore& store, DecodeCache& cache, const Tensor& ids,
                     const std::vector<int64_t>& rows) {
    (void)g;
    (void)store;
    (void)cache;
    (void)ids;
    (void)rows;
    throw Error("model '" + name() + "' has no decode cache (begin_decode returned none)");
  }

  // From embeddings (analysis, spec masked-mixer.md A.9): the last block's output (B, T, C), no final norm,
  // no head, in evaluation mode, for x (B, T, C) taking the place of the token embedding E[ids]. Whatever the
  // family adds to E[ids] before the first block (learned or sinusoidal positions) it adds to x too, so
  // blocks_from_embeddings(E[ids]) equals the forward's last "blocks.<l>.out" tap. Gradients flow to x.
  virtual Var blocks_from_embeddings(Graph& g, ParamStore& store, Var x) {
    (void)g;
    (void)store;
    (void)x;
    throw Error("model '" + name() + "' does not support running from embeddings (blocks_from_embeddings)");
  }
  // The token embedding matrix E (V, C) inside `store` (the table blocks_from_embeddings' x replaces rows of).
  virtual Tensor token_embeddings(const ParamStore& store) const {
    (void)store;
    throw Error("model '" + name() + "' does not expose its token embeddings (token_embeddings)");
  }

  // Taps: while set, the forward hands the Vars named by the taps' patterns to it (see models/taps.h).
  void set_taps(Taps* taps) { taps_ = taps; }
  // The parallel layout and the expert exchange (models/parallel_context.h); set before declare().
  virtual void set_parallel(const ParallelContext& ctx) { parallel_ = ctx; }
  const ParallelContext& parallel() const { return parallel_; }

 protected:
  bool tapping() const { return taps_ != nullptr; }
  // Offer v to the taps under `name` (build the name only when tapping()); returns v.
  Var tap(const std::string& name, Var v) {
    if (taps_) taps_->offer(name, v);
    return v;
  }

 private:
  Taps* taps_ = nullptr;
  ParallelContext parallel_;
};

}  // namespace weft::models
