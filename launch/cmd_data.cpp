// weft prepare and weft tokenizer: building token shards and SentencePiece models.
#include <cstdio>
#include <filesystem>

#include "data/prepare.h"
#include "data/sorting.h"
#include "data/stories.h"
#include "data/tokenizer.h"
#include "data/zero_shot.h"
#include "launch/commands.h"
#include "launch/options.h"

namespace weft::launch {

int cmd_prepare(const std::vector<std::string>& args) {
  OptionSet set("prepare");
  // clang-format off
  set.group("prepare").add_options()
      ("builtin", po::value<std::string>()->default_value(""),
       "generate a built-in corpus: stories | sorting (the infinity-former's sorting task, with a loss mask) | "
       "zero-shot (minimal pairs and choice items for `weft eval --task`, docs/zero-shot.md)")
      ("input", po::value<std::string>()->default_value(""), "a .txt or .jsonl (\"text\" field) file")
      ("out", po::value<std::string>()->required(), "output data folder")
      ("tokenizer", po::value<std::string>()->default_value("byte"), "byte | sentencepiece (also for --builtin)")
      ("sp-model", po::value<std::string>()->default_value(""), "existing SentencePiece model (else one is trained)")
      ("vocab-size", po::value<int>()->default_value(4096), "SentencePiece vocabulary when training one")
      ("split-digits", po::value<bool>()->default_value(true, "true")->implicit_value(true, "true"),
       "SentencePiece training: every digit its own piece (MoEUT: BPE 8000 with this); "
       "--split-digits=false lets BPE merge digits")
      ("val-fraction", po::value<double>()->default_value(0.05), "share of documents for validation")
      ("tokens", po::value<int64_t>()->default_value(5'000'000), "built-in corpus: training tokens to generate")
      ("seed", po::value<uint64_t>()->default_value(1), "built-in corpus: generator seed")
      ("sequence-length", po::value<int64_t>()->default_value(0),
       "--builtin sorting: symbols per example before the separator and the 20-symbol answer (required)")
      ("examples", po::value<int64_t>()->default_value(1000),
       "--builtin sorting: examples in all (--val-fraction of them, default 0.1 here, validate); "
       "--builtin zero-shot: pairs per phenomenon and choice items");
  // clang-format on
  po::variables_map vm = set.parse(args);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  const std::string builtin = get<std::string>(vm, "builtin"), input = get<std::string>(vm, "input");
  const std::string out = get<std::string>(vm, "out");
  if (builtin.empty() == input.empty())
    throw UsageError("give exactly one of --builtin stories|sorting or --input FILE");
  const bool split_digits = get<bool>(vm, "split-digits");
  if (!vm["split-digits"].defaulted() &&
      (get<std::string>(vm, "tokenizer") != "sentencepiece" || !get<std::string>(vm, "sp-model").empty()))
    throw UsageError("--split-digits applies when a SentencePiece model is trained (--tokenizer sentencepiece "
                     "without --sp-model)");
  if (builtin == "zero-shot") {
    if (!vm["tokenizer"].defaulted() || !vm["tokens"].defaulted() || !vm["val-fraction"].defaulted())
      throw UsageError("--builtin zero-shot writes text (JSONL) from held-out stories: --tokenizer, --tokens and "
                       "--val-fraction do not apply (--seed, --examples do)");
    data::ZeroShotOptions o;
    o.out_dir = out;
    o.seed = get<uint64_t>(vm, "seed");
    o.examples = get<int64_t>(vm, "examples");
    if (o.examples <= 0) throw UsageError("--examples must be positive");
    const data::ZeroShotStats st = data::prepare_zero_shot(o);
    std::printf("wrote %s (%lld minimal pairs) and %s (%lld choice items) from held-out stories of seed %llu\n",
                st.pairs_path.c_str(), (long long)st.pairs, st.choice_path.c_str(), (long long)st.choices,
                (unsigned long long)o.seed);
    return 0;
  }
  if (builtin != "sorting" && (!vm["sequence-length"].defaulted() || !vm["examples"].defaulted()))
    throw UsageError("--sequence-length and --examples apply to --builtin sorting");
  if (builtin == "sorting") {
    if (get<int64_t>(vm, "sequence-length") <= 0)
      throw UsageError("--builtin sorting needs --sequence-length S > 0 (symbols before the separator)");
    if (!vm["tokenizer"].defaulted() || !vm["tokens"].defaulted())
      throw UsageError("--builtin sorting has its own symbol tokenizer and size (--examples, --sequence-length): "
                       "--tokenizer and --tokens do not apply");
    data::SortingOptions o;
    o.out_dir = out;
    o.sequence_length = get<int64_t>(vm, "sequence-length");
    o.examples = get<int64_t>(vm, "examples");
    if (!vm["val-fraction"].defaulted()) o.val_fraction = get<double>(vm, "val-fraction");
    o.seed = get<uint64_t>(vm, "seed");
    data::SortingStats st = data::prepare_builtin_sorting(o);
    std::printf("wrote %s: sorting, %lld train + %lld val examples of %lld tokens (%lld + %lld tokens), loss masks "
                "train_mask.bin / val_mask.bin, in %.2f s\n",
                out.c_str(), (long long)st.train_examples, (long long)st.val_examples,
                (long long)(o.sequence_length + data::kSortingSymbols + 2), (long long)st.train_tokens,
                (long long)st.val_tokens, st.seconds);
    return 0;
  }
  if (!builtin.empty()) {
    if (builtin != "stories")
      throw UsageError("--builtin: unknown corpus '" + builtin + "' (available: stories, sorting, zero-shot)");
    data::StoriesOptions o;
    o.out_dir = out;
    o.seed = get<uint64_t>(vm, "seed");
    o.target_tokens = get<int64_t>(vm, "tokens");
    o.tokenizer = get<std::string>(vm, "tokenizer");
    o.sp_model = get<std::string>(vm, "sp-model");
    o.sp_vocab_size = get<int>(vm, "vocab-size");
    o.sp_split_digits = split_digits;
    o.val_fraction = get<double>(vm, "val-fraction");
    data::PrepareStats st = data::prepare_builtin_stories(o);
    std::printf(
        "wrote %s: %lld stories, %lld train + %lld val tokens (%s tokenizer), pairs.jsonl (summary, story) "
        "in %.2f s\n",
        out.c_str(), (long long)st.documents, (long long)st.train_tokens, (long long)st.val_tokens, o.tokenizer.c_str(),
        st.seconds);
    return 0;
  }
  data::TextPrepareOptions o;
  o.input = input;
  o.out_dir = out;
  o.tokenizer = get<std::string>(vm, "tokenizer");
  o.sp_model = get<std::string>(vm, "sp-model");
  o.sp_vocab_size = get<int>(vm, "vocab-size");
  o.sp_split_digits = split_digits;
  o.val_fraction = get<double>(vm, "val-fraction");
  data::TextPrepareStats st = data::prepare_text(o);
  std::printf("wrote %s: %lld documents, %lld train + %lld val tokens (%s tokenizer)\n", out.c_str(),
              (long long)st.documents, (long long)st.train_tokens, (long long)st.val_tokens, o.tokenizer.c_str());
  if (st.skipped_empty > 0) std::printf("skipped %lld empty documents\n", (long long)st.skipped_empty);
  return 0;
}

int cmd_tokenizer(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "train")
    throw UsageError("usage: weft tokenizer train --input FILE --out PREFIX [--vocab-size N] [--split-digits=false]");
  OptionSet set("tokenizer train");
  // clang-format off
  set.group("tokenizer").add_options()
      ("input", po::value<std::string>()->required(), "text file to learn from")
      ("out", po::value<std::string>()->required(), "model prefix: writes PREFIX.model and PREFIX.vocab")
      ("vocab-size", po::value<int>()->default_value(4096), "vocabulary size")
      ("split-digits", po::value<bool>()->default_value(true, "true")->implicit_value(true, "true"),
       "every digit its own piece (MoEUT: BPE 8000 with this); --split-digits=false lets BPE merge digits");
  // clang-format on
  po::variables_map vm = set.parse(std::vector<std::string>(args.begin() + 1, args.end()));
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  const std::string prefix = get<std::string>(vm, "out");
  data::SentencePieceOptions sp;
  sp.vocab_size = get<int>(vm, "vocab-size");
  sp.split_digits = get<bool>(vm, "split-digits");
  data::train_sentencepiece(get<std::string>(vm, "input"), prefix, sp);
  auto tok = data::load_sentencepiece(prefix + ".model");
  std::printf("wrote %s.model (vocabulary %lld)\n", prefix.c_str(), (long long)tok->vocab_size());
  return 0;
}

}  // namespace weft::launch
