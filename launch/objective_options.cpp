// [objective] flags (launch/objective_options.h).
#include "launch/objective_options.h"

#include <cmath>

namespace weft::launch {

void add_objective_options(OptionSet& set) {
  set.group("objective").add_options()
      ("objective", po::value<std::string>()->default_value("lm"),
       "lm: next-token cross-entropy on --data | infonce: fine-tune the model as an embedding model, InfoNCE on "
       "the cosine similarity of its --tap state over groups [query, N - 1 documents] of --pairs (--batch-size "
       "groups per micro-batch per rank)")
      ("pairs", po::value<std::string>()->default_value(""),
       "infonce: JSONL of query/document pairs (the built-in corpus writes DATA/pairs.jsonl); the train split's "
       "pairs are the pool, texts tokenized with --data's tokenizer and padded/truncated to --seq-len")
      ("query-field", po::value<std::string>()->default_value("summary"), "infonce: JSON string field of the query")
      ("document-field", po::value<std::string>()->default_value("story"),
       "infonce: JSON string field of the document")
      ("pairs-val-fraction", real_value(0.0),
       "infonce: share of the pairs WITHOUT a \"split\" field that are val, left out of training (as weft embed "
       "--val-fraction)")
      ("infonce-group", po::value<int64_t>()->default_value(8),
       "infonce: N, the group size: the query and N - 1 documents, its own at a seeded random slot, the others "
       "drawn from the other train pairs, fresh for every group")
      ("infonce-tau", real_value(0.02), "infonce: the temperature tau of exp(cos / tau)");
  add_embedding_tap_options(set, "objective");
}

ObjectiveOptions objective_options(const po::variables_map& vm) {
  ObjectiveOptions o;
  const std::string objective = get<std::string>(vm, "objective");
  if (objective != "lm" && objective != "infonce")
    throw UsageError("--objective must be lm or infonce, got '" + objective + "'");
  o.infonce = objective == "infonce";
  InfoNceOptions& n = o.nce;
  n.pairs = get<std::string>(vm, "pairs");
  n.query_field = get<std::string>(vm, "query-field");
  n.document_field = get<std::string>(vm, "document-field");
  n.val_fraction = get<double>(vm, "pairs-val-fraction");
  n.group = get<int64_t>(vm, "infonce-group");
  n.tau = get<double>(vm, "infonce-tau");
  n.tap = embedding_tap_flags(vm);
  if (n.tap.mean_pool)
    throw UsageError("--mean-pool is a weft embed option; --objective infonce reads one position (--index or "
                     "--last-token)");
  if (o.infonce && n.pairs.empty())
    throw UsageError("--objective infonce needs --pairs PAIRS.jsonl (query/document pairs; the built-in corpus "
                     "writes DATA/pairs.jsonl)");
  if (!o.infonce && !n.pairs.empty())
    throw UsageError("--pairs " + n.pairs + " is only read with --objective infonce (this run trains --objective lm)");
  if (n.group < 2) throw UsageError("--infonce-group must be >= 2 (the query and at least one document), got " +
                                    std::to_string(n.group));
  if (!(n.tau > 0) || !std::isfinite(n.tau)) throw UsageError("--infonce-tau must be positive");
  if (!(n.val_fraction >= 0.0 && n.val_fraction < 1.0)) throw UsageError("--pairs-val-fraction must be in [0, 1)");
  return o;
}

}  // namespace weft::launch
