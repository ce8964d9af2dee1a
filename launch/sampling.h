// Text generation for `weft sample`: continuations of several prompts decoded as one batch, each new token
// handed to a callback as soon as it is chosen. With the model's decode cache (Model::begin_decode) a step
// runs only the new token of every row through the model; without one (or with --no-cache, or once a row
// holds `window` tokens) a row's next token comes from the logits of its last `window` tokens, recomputed.
// Both give the same logits, so greedy samples are identical; the random draws (one per row per step, rows
// in order) do not depend on the path either.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/model.h"

namespace weft::launch {

struct SampleOptions {
  double temperature = 0.8;  // 0: greedy
  int64_t top_k = 40;        // 0: all
  int64_t max_new = 200;     // tokens per prompt at most
  uint64_t seed = 1;
  int64_t window = 0;        // the longest context given to the model (the training seq-len)
  bool use_cache = true;     // false: recompute the window for every token
};

// Generates up to max_new tokens after each prompt (token ids; none may be empty); a row stops at
// end-of-text (`eot`, not included). on_token(row, id) runs as each token is chosen, on_done(row) when a row
// stops. Returns the generated ids per row.
std::vector<std::vector<int32_t>> generate(models::Model& model, ParamStore& store, Exec& ex,
                                           const std::vector<std::vector<int32_t>>& prompts, int32_t eot,
                                           const SampleOptions& opts,
                                           const std::function<void(size_t, int32_t)>& on_token,
                                           const std::function<void(size_t)>& on_done);

// Bytes of `text` that form complete UTF-8 sequences: the length of the longest prefix that does not end
// inside a multi-byte character (a streamed piece holds back a character's first bytes until the rest come).
size_t complete_utf8_prefix(const std::string& text);

}  // namespace weft::launch
