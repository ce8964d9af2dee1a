// Zero-shot evaluation sets drawn from the built-in story grammar (`weft prepare --builtin zero-shot`),
// scored by `weft eval --task pairs|choice` (launch/eval_tasks.h; formats and protocols: docs/zero-shot.md).
//   minimal pairs (BLiMP-style), one phenomenon each:
//     agreement_subject_verb  "Lily was so happy." / "Lily were so happy." (and plural subjects the other way)
//     agreement_pronoun       a child hero's he/she, him/her, himself/herself vs the other gender's
//     agreement_determiner    "a little dog" / "an little dog", "an owl" / "a owl"
//     plot_consistency        a story prefix (context) and its next beat vs the beat with the hero's name, the
//                             object or the place swapped for one the story never mentions
//   choice items: a story prefix, its true next beat and 3 beats of other stories.
// The three agreement sets expand sentence templates written like the stories' own, with the contrast bound
// two ways on two copies of one Teller, so good and bad differ in exactly that word. Everything is a pure
// function of (seed, item). Held out: the stories come from indices kZeroShotIndexBase + ..., which
// `weft prepare --builtin stories` (indices 0, 1, ...) never reaches, whatever seed it ran with.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::data {

constexpr uint64_t kZeroShotIndexBase = uint64_t(1) << 40;

struct MinimalPair {
  std::string phenomenon;
  std::string detail;   // the contrast ("was/were", "reflexive", "object", ...)
  std::string context;  // shared prefix (plot_consistency), else empty
  std::string good, bad;
};

struct ChoiceItem {
  std::string context;
  std::vector<std::string> choices;  // each starts with a space: it continues the context verbatim
  int answer = 0;
};

// Template phenomena (zero_shot_pairs.cpp): item i of phenomenon 0 subject-verb, 1 pronoun, 2 determiner.
extern const char* const kTemplatePhenomena[3];
MinimalPair make_template_pair(uint64_t seed, int phenomenon, uint64_t item);

// Story-based sets (zero_shot.cpp). make_plot_pair returns false when story `item` offers no beat to swap.
bool make_plot_pair(uint64_t seed, uint64_t item, MinimalPair& out);
ChoiceItem make_choice_item(uint64_t seed, uint64_t item);

std::string minimal_pair_json(const MinimalPair& p);
std::string choice_item_json(const ChoiceItem& c);

struct ZeroShotOptions {
  std::string out_dir;
  uint64_t seed = 1;
  int64_t examples = 500;  // pairs per phenomenon, and choice items
};

struct ZeroShotStats {
  int64_t pairs = 0, choices = 0;
  std::string pairs_path, choice_path;
};

// Writes out_dir/minimal_pairs.jsonl (examples per phenomenon, phenomena in the order above) and
// out_dir/choice.jsonl. (Not pairs.jsonl: a stories data folder already holds one, the summary/story pairs.)
ZeroShotStats prepare_zero_shot(const ZeroShotOptions& opt);

}  // namespace weft::data
