// `weft prepare --builtin sorting`: the synthetic sorting task of the infinity-former paper (spec
// infinite-memory.md B.9). Vocabulary: symbols 0..19, separator 20, end-of-text 21 (the reference's pad).
// Example i of seed s (a pure function of both, Philox stream i): weights p_init, p_final drawn uniformly from
// {1..9} per symbol and normalised; token j (j < S) ~ Categorical((1 - r) p_init + r p_final), r = (j + 1) / S;
// then the separator and the answer: the 20 symbols by decreasing count in the S tokens, ties (and absent
// symbols) by increasing symbol id; then end-of-text. A loss mask (data/loss_mask.h) counts only the 20 answer
// tokens. The symbol tokenizer ("symbols 20" in tokenizer.txt) writes symbol k as the letter 'a' + k and the
// separator as '|'.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace weft::data {

inline constexpr int kSortingSymbols = 20;

struct SortingExample {
  std::vector<int32_t> tokens;  // S symbols, separator, 20 answer symbols (no end-of-text)
  std::vector<uint8_t> mask;    // 1 on the answer tokens
};

// Example `index` of the task with sequence length S and `seed`.
SortingExample generate_sorting_example(uint64_t seed, uint64_t index, int64_t sequence_length);

struct SortingOptions {
  std::string out_dir;
  int64_t sequence_length = 0;  // S, required (> 0)
  int64_t examples = 1000;      // in all; example i validates when floor((i + 1) f) > floor(i f)
  double val_fraction = 0.1;
  uint64_t seed = 1;
};

struct SortingStats {
  int64_t train_examples = 0, val_examples = 0, train_tokens = 0, val_tokens = 0;
  double seconds = 0;
};

// Writes out_dir/{train.bin, val.bin, train_mask.bin, val_mask.bin, tokenizer.txt, data.json}. Errors name
// the flag (--sequence-length, --examples, --val-fraction).
SortingStats prepare_builtin_sorting(const SortingOptions& opt);

// The tokenizer of `symbols` symbols, a separator (id symbols) and end-of-text (id symbols + 1); symbols <= 26.
std::unique_ptr<Tokenizer> make_symbol_tokenizer(int symbols);

}  // namespace weft::data
