// The infinity-former (spec infinite-memory.md part B; issue 14): a GPT-2 style pre-LN decoder whose layers add
// a continuous long-term memory (LTM, models/infinite_memory/ltm.h) to causal attention over the current
// segment (the short-term memory, STM), the GPT-2 integration of B.8:
//   a_l = c_proj(causal attention within the segment) + LTM_l(memory = layer l's INPUTS of the previous
//         segment, query = the STM query heads);   x = x + a_l;  x = x + MLP(LN2(x))
// The LTM keeps N basis coefficients per layer (B_past, (N, e)); every segment contracts the old signal into
// [0, tau] (M samples: uniform, or sticky, drawn from the previous call's attention density) and fits the new
// vectors (gated by a learned Conv1d(k=3) mask) into (tau, 1]. Loss = CE + ltm-kl * ltm_kl (aux term).
//
// Segments: a window of T tokens runs as consecutive segments of --ltm-segment tokens (0: --seq-len), each with
// positions 0.. (learned, --ltm-segment rows), the memory fed with the previous segment; so any length
// evaluates (max_seq_len is unbounded). Training with Batch::streams carries each stream's memory (the last
// segment's layer inputs, the coefficients, the last attention's mu and sigma, a token count and the number of
// updates, which keys the sticky sampler's Philox counters) across steps in the model state; evaluation and
// logits() start from an empty memory and neither read nor write it; stream_logits() (--pack segments
// evaluation) carries the evaluation streams' memories, never saved.
//
// Choices where the spec is open or the official code is buggy (B.5-B.8, B.12):
//  - KL (B.7): the sigma-only term 1/2 (s^2/s0^2 - log(s^2/s0^2) - 1), the paper's intent. The official GPT-2
//    code's `mu_0 = -1` with `if mu_0 > 0` adds (mu + 1)^2 / s0^2 (pulling mu towards 0); not reproduced.
//    ltm_kl = sum over memory layers of the mean over (rows with a memory, heads, queries of every segment).
//  - Contraction pads (B.5): the points < 0 and > 1 of linspace(-0.5 + s, 1.5 - s, 2(L+M)), s = 1/(2L+M) as
//    in the official code; G keeps exactly the rows of the M + L real positions (the official trims (L+M)/2
//    rows per side, the same rows whenever the left pads number (L+M)/2, e.g. L = M = 512), so odd L + M works.
//  - Sticky (B.6): bins' left edges d/D, sorted; the categorical draw uses Philox uniforms keyed by the run
//    seed (the loss Rng's key), stream = global stream id, counter = (updates of that stream x layers + layer)
//    x ceil(M/4). Evaluation (no streams) uses seed 0 and stream = row. The first update of a memory (no
//    B_past) samples nothing, as in the official code.
//  - Detach (B.5): the memory inputs and B_past are constants across steps always; within one window of
//    several segments --ltm-detach false lets the gradient flow through earlier segments' memory (the generic
//    fp64 whole-model gradient check needs that); --ltm-detach true (default) detaches there too.
//  - Reset (B.8): --memory-reset document clears a stream's memory when Batch::starts marks a new document
//    (null starts: never); tokens:N drops the coefficients when N memory vectors were added since the last
//    reset (the official count/mem_threshold: the segment's own vectors are still fitted); never.
//  - --integration xl (B.8's sorting path, Transformer-XL): the STM of segment c attends over [the previous
//    segment's layer inputs (mems, no gradient through them: constants across steps and, with --ltm-detach,
//    within a window); segment c] with the causal offset of ops::attention (query i at key position i + mem);
//    the memory's keys and values are the layer's own LN1 + qkv of the mems, recomputed with the current
//    weights (TrXL). The STM length is one segment (mem_len = tgt_len, as in the sorting config). The LTM is
//    fed with the vectors that just LEFT the STM, the inputs of segment c - 2 (B.8: mems[:-mem_len]), so STM
//    and LTM cover disjoint spans; its query is the un-rotated STM query (B.8: before r_w_bias). Positions:
//    TrXL's relative attention is replaced by RoPE on the STM's queries and keys (queries at mem..mem+S-1, keys
//    0..mem+S-1: relative by construction), so xl declares no learned position table and needs an even head
//    size. Layers keep the pre-LN GPT-2 block (TrXL's sorting model is post-LN). The state per layer gains
//    "stm" (the last segment's inputs, in every layer, with or without an LTM); --memory-reset tokens:N drops
//    only the LTM coefficients, a document start clears both. The first segment of a window whose rows
//    disagree (some continue a stream, some start one) runs its STM attention row by row.
// Taps: embed, blocks.<l>.attn, blocks.<l>.ltm (layers with memory, when used), blocks.<l>.mlp, blocks.<l>.out.
#pragma once

#include <map>
#include <vector>

#include "models/common/blocks.h"
#include "models/flags.h"
#include "models/infinite_memory/ltm.h"
#include "models/model.h"
#include "runtime/memory.h"

namespace weft::models {

struct InfiniteConfig {
  int64_t vocab_size = 257;          // --vocab-size
  int64_t seq_len = 256;             // --seq-len
  int64_t d_model = 128;             // --d-model (= e, the memory width)
  int64_t n_layers = 4;              // --n-layers
  int64_t n_heads = 4;               // --n-heads (head size d-model / n-heads)
  int64_t d_ff = 0;                  // --d-ff (0: 4 d-model)
  std::string integration = "gpt2";  // --integration gpt2 | xl
  int64_t segment = 0;               // --ltm-segment (0: --seq-len)
  std::string layers = "all";        // --ltm-layers all | none | i,j,...
  int64_t basis = 256;               // --ltm-basis N
  std::vector<double> widths{0.005, 0.01};  // --ltm-widths
  double ridge = 0.5;                // --ltm-ridge lambda
  int64_t samples = 256;             // --ltm-samples M
  double tau = 0.5;                  // --ltm-tau
  bool sticky = true;                // --ltm-sticky
  int64_t sticky_bins = 128;         // --ltm-sticky-bins D
  double sigma_floor = 1e-4;         // --ltm-sigma-floor
  double sigma0 = 0.05;              // --ltm-sigma0
  double kl = 1e-6;                  // --ltm-kl
  bool mask = true;                  // --ltm-mask
  bool detach = true;                // --ltm-detach
  std::string memory_reset = "document";  // --memory-reset document | tokens:N | never
  int64_t reset_tokens = 0;          // N of tokens:N

  int64_t segment_len() const { return segment > 0 ? segment : seq_len; }
  bool xl() const { return integration == "xl"; }
  int64_t ff() const { return d_ff > 0 ? d_ff : 4 * d_model; }
  std::vector<bool> memory_layers() const;  // per layer: has a long-term memory
  void validate() const;
  static std::vector<Flag> flags();
  static InfiniteConfig from_flags(const FlagValues& v);
};

class InfiniteModel : public Model {
 public:
  explicit InfiniteModel(InfiniteConfig cfg);
  std::string name() const override { return "infinite"; }
  void declare(ParamStore& store) override;
  Var loss(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) override;
  LossTerms loss_terms(Graph& g, ParamStore& store, const Batch& batch, Rng& rng, bool training) override;
  Var logits(Graph& g, ParamStore& store, const Tensor& ids) override;
  // Evaluation over consecutive segments (--pack segments): the evaluation streams' memories (ids >=
  // kEvalStreamBase, never saved), cleared where batch.starts is 1 whatever --memory-reset says.
  Var stream_logits(Graph& g, ParamStore& store, const Batch& batch) override;
  double flops_per_token(int64_t T) const override;
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  Tensor token_embeddings(const ParamStore& store) const override { return store.value(tok_emb_); }
  // Every block from x (B, T, C) in place of E[ids] (positions still added), empty memory: the last block's output.
  Var blocks_from_embeddings(Graph& g, ParamStore& store, Var x) override;

  bool has_state() const override { return n_memory_layers_ > 0 || cfg_.xl(); }
  void reset_state() override { memory_.clear(); }
  std::vector<StateTensor> save_state() const override;
  void load_state(const std::vector<StateTensor>& state) override;

  // Host memory of one layer of one stream; an empty vector is "none".
  struct LayerMemory {
    std::vector<double> coef;       // (N, e): B_past
    std::vector<double> mem;        // (mem_len, e): the LTM's next new vectors (gpt2: the previous segment's
                                    // layer inputs; xl: the one before, which just left the STM)
    std::vector<double> stm;        // xl: (len, e) the previous segment's layer inputs (the STM's mems)
    std::vector<double> mu, sigma;  // (H q): the last attention call's mu and sigma (sticky sampling)
  };
  struct StreamMemory {
    std::vector<LayerMemory> layers;  // one per layer (empty for layers without memory)
    int64_t tokens = 0;               // memory vectors added since the last reset (--memory-reset tokens:N)
    int64_t updates = 0;              // memory updates so far (the sticky sampler's counter)
  };
  const InfiniteConfig& config() const { return cfg_; }

 private:
  struct Layer {
    NormParams ln1, ln2;
    AttentionParams attn;
    MlpParams mlp;
    bool memory = false;
    int key = -1, value = -1, out = -1, mu = -1, sigma = -1, mask_w = -1, mask_b = -1;
  };
  struct Forward {
    Var logits;  // (B, T, V)
    Var kl;      // (1) ltm_kl
    Var last;    // (B, T, C) the last block's output (before the final norm)
  };
  // rows: each row's memory at the start (updated in place to the end state); key/streams: the sticky sampler.
  // embeddings (B, T, C), when given, replace E[ids] (ids then only give the shape).
  Forward forward(Graph& g, ParamStore& store, const Tensor& ids, std::vector<StreamMemory>& rows, PhiloxKey key,
                  const int64_t* streams, Var embeddings = nullptr);
  ltm::Weights weights(Graph& g, ParamStore& store, const Layer& l) const;
  Var cached(Graph& g, int kind, int64_t a, int64_t b, DType dt);  // G matrices and basis constants
  void reset_rows(const Batch& batch);

  InfiniteConfig cfg_;
  ltm::Basis basis_;
  int64_t n_memory_layers_ = 0;
  int tok_emb_ = -1, pos_emb_ = -1;
  NormParams ln_f_;
  std::vector<Layer> layers_;
  std::map<std::vector<int64_t>, OwnedTensor> constants_;  // (kind, a, b, dtype, device) -> constant
  std::map<int64_t, StreamMemory> memory_;                  // global stream id -> memory
};

}  // namespace weft::models
