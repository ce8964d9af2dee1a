// The [objective] flags of `weft train`: --objective lm (next-token cross-entropy, the default) or infonce
// (spec masked-mixer.md A.10 item 10: the model fine-tuned as an embedding model with InfoNCE on cosine
// similarity over groups [query, document_1 .. document_{N-1}] of a pairs file; launch/infonce_objective.h).
#pragma once

#include <cstdint>
#include <string>

#include "launch/embedding_tap.h"
#include "launch/options.h"

namespace weft::launch {

struct InfoNceOptions {
  std::string pairs;                       // --pairs JSONL (launch/pairs_file.h)
  std::string query_field = "summary", document_field = "story";
  double val_fraction = 0.0;               // --pairs-val-fraction: pairs without "split" that are val (unused)
  int64_t group = 8;                       // --infonce-group N: one query + N - 1 documents
  double tau = 0.02;                       // --infonce-tau
  EmbeddingTapFlags tap;                   // --tap, --index, --last-token (as weft embed)
};

struct ObjectiveOptions {
  bool infonce = false;  // --objective infonce
  InfoNceOptions nce;
};

void add_objective_options(OptionSet& set);
ObjectiveOptions objective_options(const po::variables_map& vm);  // validated; errors name the flag

}  // namespace weft::launch
