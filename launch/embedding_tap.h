// Which hidden state of a generative model is a text's embedding (spec masked-mixer.md A.10 item 3), shared by
// `weft embed` (frozen) and `weft train --objective infonce` (fine-tuned through the same tap):
//   a family with a "final" tap (the transformer, the hybrid: after the final norm)   final at -1
//   any other (the masked mixer: its last block's output)                          blocks.<N-1>.out at -2
// --tap / --index override (a negative index counts from the end of the L positions); --last-token reads each
// text's last real (non-pad) token instead; --mean-pool (weft embed only) averages the tap over the text's real
// tokens. Texts are tokenized without BOS, truncated or right-padded with end-of-text to L (A.5).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "launch/options.h"
#include "models/model.h"

namespace weft::launch {

struct EmbeddingTap {
  std::string tap;          // "final", "blocks.3.out", ...
  int64_t index = -1;       // the position read (negative: from the end), when !last_token
  bool last_token = false;  // read each text's last real token instead
  bool mean_pool = false;   // average the tap over each text's real tokens instead (weft embed)
  int64_t position = 0;     // index resolved against L (0 .. L-1)
  // The tap attribute of an embeddings file: the tap, "@last" appended with --last-token, "@mean" with --mean-pool.
  std::string label() const { return last_token ? tap + "@last" : mean_pool ? tap + "@mean" : tap; }
};

// --tap, --index, --last-token in `group`, and their values.
void add_embedding_tap_options(OptionSet& set, const std::string& group);
struct EmbeddingTapFlags {
  std::string tap;           // "" : the default
  bool has_index = false;    // --index given
  int64_t index = -1;
  bool last_token = false;
  bool mean_pool = false;
};
EmbeddingTapFlags embedding_tap_flags(const po::variables_map& vm);

// The names of every tap the model offers, from one forward pass (no gradient) over one sequence of
// end-of-text tokens of length L.
std::vector<std::string> offered_taps(models::Model& model, ParamStore& params, Exec& ex, int64_t L, int32_t eot);

// The defaults above, or the flags, validated against the offered taps and L (UsageErrors naming the flag).
EmbeddingTap choose_embedding_tap(const EmbeddingTapFlags& flags, const std::vector<std::string>& offered,
                                  const std::string& model_name, int64_t L);

// text -> L ids (truncated, or right-padded with end-of-text) into out; returns the position to read (with
// --mean-pool: the number of real tokens, at least 1, whose tap values are averaged).
int64_t encode_for_embedding(const data::Tokenizer& tok, const std::string& text, int64_t L, const EmbeddingTap& tap,
                             int32_t* out);

std::string join_names(const std::vector<std::string>& names);  // "a, b, c"

}  // namespace weft::launch
