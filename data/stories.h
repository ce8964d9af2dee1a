// The built-in corpus: TinyStories-like short stories generated from a seed, each with a one-sentence
// summary, so training needs no download. 19 plots (a problem and its resolution: a lost toy, sharing, a
// storm, a fear overcome, getting lost, ...) written in a small template language (story_template.h)
// with nested alternative phrasings, dialogue, and a cast (children or animal heroes, friends, parents,
// pets, places, objects) drawn from word lists; a shared opening and an optional ending with the moral.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/tokenizer.h"

namespace weft::data {

struct Story {
  std::string summary;
  std::string text;
  std::string plot;  // the plot's name
  // The printed parts of `text` in order (the opening, each plot beat that prints, the ending): text joins
  // them with single spaces. And the cast's bindings (H, he, F, P, A, AN, place, obj, ...) the templates used.
  // For the zero-shot sets (data/zero_shot.h).
  std::vector<std::string> beats;
  std::vector<std::pair<std::string, std::string>> cast;
};

// The story with index i of the corpus of `seed` (a pure function of both).
Story generate_story(uint64_t seed, uint64_t index);

struct StoryTemplateStats {
  int64_t plots = 0, sentence_templates = 0;
  int64_t sentence_forms = 0;  // distinct phrasings over all templates, not counting word fills
};
StoryTemplateStats story_template_stats();

struct StoriesOptions {
  std::string out_dir;
  uint64_t seed = 1;
  int64_t target_tokens = 5'000'000;  // stop once the train split holds this many tokens...
  int64_t stories = 0;                // ...or, when > 0, after exactly this many stories
  std::string tokenizer = "byte";     // byte | sentencepiece
  std::string sp_model;               // existing SentencePiece model; empty: train one on the stories
  SentencePieceOptions sp;            // when one is trained
  double val_fraction = 0.05;  // story i validates when floor((i + 1) f) > floor(i f)
  int64_t shard_tokens = 0;    // > 0: shards of about this many tokens (split.h)
};

struct PrepareStats {
  int64_t train_tokens = 0, val_tokens = 0, documents = 0;
  double seconds = 0;
  std::vector<std::string> notes;  // SentencePiece's advice when one was trained (train_sentencepiece)
};

// Writes out_dir/{train.bin, val.bin, pairs.jsonl, tokenizer.txt, data.json} (+ tokenizer.model for
// SentencePiece). pairs.jsonl: one {"id", "split", "summary", "story"} object per story. Stories are
// generated and encoded in parallel; the output does not depend on the thread count.
PrepareStats prepare_builtin_stories(const StoriesOptions& opt);

}  // namespace weft::data
