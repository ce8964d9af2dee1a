// The built-in corpus: TinyStories-like short stories generated from a seed, each with a one-sentence
// summary, so training needs no download. Plots (a lost thing found, sharing, a storm, a new friend,
// a race, baking, helping an animal, a fear overcome) are filled with characters, places, objects and
// feelings from word lists, with several phrasings per sentence and dialogue lines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::data {

struct Story {
  std::string summary;
  std::string text;
};

// The story with index i of the corpus of `seed` (a pure function of both).
Story generate_story(uint64_t seed, uint64_t index);

struct PrepareStats {
  int64_t train_tokens = 0, val_tokens = 0, documents = 0;
  double seconds = 0;
};

// Writes out_dir/{train.bin, val.bin, pairs.jsonl, tokenizer.txt} (byte tokenizer): stories until the
// train split holds at least target_tokens tokens; every 20th story goes to validation.
PrepareStats prepare_builtin_stories(const std::string& out_dir, uint64_t seed, int64_t target_tokens);

}  // namespace weft::data
