// weft prepare and weft tokenizer: building token shards and SentencePiece models. Both take the
// SentencePiece trainer options as flags (--a-b for the trainer's a_b) and JSONL text fields (--text-field).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/documents.h"
#include "data/prepare.h"
#include "data/sorting.h"
#include "data/stories.h"
#include "data/tokenizer.h"
#include "data/zero_shot.h"
#include "launch/commands.h"
#include "launch/options.h"

namespace weft::launch {

namespace {

// The SentencePiece trainer options a user may need (whitespace-heavy text, non-Latin scripts), named as the
// trainer names them so its documentation applies; the defaults (data/tokenizer.h) keep text exact.
void add_sentencepiece_options(po::options_description& g) {
  auto flag = [](bool v) {
    return po::value<bool>()->default_value(v, v ? "true" : "false")->implicit_value(true, "true");
  };
  // clang-format off
  g.add_options()
      ("vocab-size", po::value<int>()->default_value(4096), "SentencePiece vocabulary when training one (vocab_size)")
      ("model-type", po::value<std::string>()->default_value("bpe"), "SentencePiece model: bpe | unigram (model_type)")
      ("split-digits", flag(true),
       "SentencePiece training: every digit its own piece (MoEUT: BPE 8000 with this); "
       "--split-digits=false lets BPE merge digits (split_digits)")
      ("allow-whitespace-only-pieces", flag(true),
       "runs of spaces may be pieces, so indentation costs a few tokens, not one lone-space token per space "
       "(allow_whitespace_only_pieces)")
      ("remove-extra-whitespaces", flag(false),
       "drop leading, trailing and repeated spaces before training and encoding; decoded text then differs from "
       "the input (remove_extra_whitespaces)")
      ("normalization-rule-name", po::value<std::string>()->default_value("identity"),
       "identity: text kept byte for byte; nmt_nfkc / nfkc: Unicode compatibility forms folded, decoded text may "
       "differ (normalization_rule_name)")
      ("treat-whitespace-as-suffix", flag(false),
       "a space ends the piece before it instead of starting the next one (treat_whitespace_as_suffix)")
      ("byte-fallback", flag(true),
       "characters outside the vocabulary become byte pieces; false: <unk>, decoded text then differs "
       "(byte_fallback)")
      ("character-coverage", real_value(0.9995),
       "share of the corpus' characters the vocabulary must cover; rarer ones go through byte fallback "
       "(character_coverage)");
  // clang-format on
}

// The SentencePiece flags that only matter when a model is trained (--vocab-size is left out: it also sizes
// nothing else, and older scripts pass it with --tokenizer byte).
const char* const kTrainingFlags[] = {"model-type", "split-digits", "allow-whitespace-only-pieces",
                                      "remove-extra-whitespaces", "normalization-rule-name",
                                      "treat-whitespace-as-suffix", "byte-fallback", "character-coverage"};

data::SentencePieceOptions sentencepiece_options(const po::variables_map& vm) {
  data::SentencePieceOptions sp;
  sp.vocab_size = get<int>(vm, "vocab-size");
  sp.model_type = get<std::string>(vm, "model-type");
  sp.split_digits = get<bool>(vm, "split-digits");
  sp.allow_whitespace_only_pieces = get<bool>(vm, "allow-whitespace-only-pieces");
  sp.remove_extra_whitespaces = get<bool>(vm, "remove-extra-whitespaces");
  sp.normalization = get<std::string>(vm, "normalization-rule-name");
  sp.treat_whitespace_as_suffix = get<bool>(vm, "treat-whitespace-as-suffix");
  sp.byte_fallback = get<bool>(vm, "byte-fallback");
  sp.character_coverage = get<double>(vm, "character-coverage");
  if (sp.model_type != "bpe" && sp.model_type != "unigram")
    throw UsageError("--model-type must be bpe or unigram, got '" + sp.model_type + "'");
  return sp;
}

// --text-field a,b: the JSONL fields a document is made of; only for inputs read as JSONL.
std::vector<std::string> text_fields(const po::variables_map& vm, const std::string& input) {
  std::vector<std::string> fields;
  const std::string flag = get<std::string>(vm, "text-field");
  for (size_t b = 0; b <= flag.size();) {
    const size_t e = std::min(flag.find(',', b), flag.size());
    const std::string f = flag.substr(b, e - b);
    if (f.empty()) throw UsageError("--text-field: empty field name in '" + flag + "' (give names like story or title,story)");
    fields.push_back(f);
    b = e + 1;
  }
  if (!vm["text-field"].defaulted() && !data::has_jsonl_input(input))
    throw UsageError("--text-field applies to .jsonl inputs (or folders of them); '" + input + "' is not one");
  return fields;
}

void print_notes(const std::vector<std::string>& notes) {
  for (const auto& n : notes) std::fprintf(stderr, "note: %s\n", n.c_str());
}

}  // namespace

int cmd_prepare(const std::vector<std::string>& args) {
  OptionSet set("prepare");
  // clang-format off
  set.group("prepare").add_options()
      ("builtin", po::value<std::string>()->default_value(""),
       "generate a built-in corpus: stories | sorting (the infinity-former's sorting task, with a loss mask) | "
       "zero-shot (minimal pairs and choice items for `weft eval --task`, docs/zero-shot.md)")
      ("input", po::value<std::string>()->default_value(""), "a .txt or .jsonl file, or a folder of them")
      ("text-field", po::value<std::string>()->default_value("text"),
       "--input .jsonl: the string field(s) each document is made of, comma-separated (title,story: joined with a "
       "newline)")
      ("out", po::value<std::string>()->required(), "output data folder")
      ("tokenizer", po::value<std::string>()->default_value("byte"), "byte | sentencepiece (also for --builtin)")
      ("sp-model", po::value<std::string>()->default_value(""), "existing SentencePiece model (else one is trained)")
      ("val-fraction", real_value(0.05), "share of documents for validation")
      ("tokens", po::value<int64_t>()->default_value(5'000'000), "built-in corpus: training tokens to generate")
      ("seed", po::value<uint64_t>()->default_value(1), "built-in corpus: generator seed")
      ("sequence-length", po::value<int64_t>()->default_value(0),
       "--builtin sorting: symbols per example before the separator and the 20-symbol answer (required)")
      ("examples", po::value<int64_t>()->default_value(1000),
       "--builtin sorting: examples in all (--val-fraction of them, default 0.1 here, validate); "
       "--builtin zero-shot: pairs per phenomenon and choice items");
  // clang-format on
  add_sentencepiece_options(set.group("sentencepiece"));  // used when a model is trained
  po::variables_map vm = set.parse(args);
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  const std::string builtin = get<std::string>(vm, "builtin"), input = get<std::string>(vm, "input");
  const std::string out = get<std::string>(vm, "out");
  if (builtin.empty() == input.empty())
    throw UsageError("give exactly one of --builtin stories|sorting or --input FILE");
  const data::SentencePieceOptions sp = sentencepiece_options(vm);
  for (const char* f : kTrainingFlags)
    if (!vm[f].defaulted() &&
        (get<std::string>(vm, "tokenizer") != "sentencepiece" || !get<std::string>(vm, "sp-model").empty()))
      throw UsageError(std::string("--") + f + " applies when a SentencePiece model is trained (--tokenizer " +
                       "sentencepiece without --sp-model)");
  if (!builtin.empty() && !vm["text-field"].defaulted())
    throw UsageError("--text-field applies to --input .jsonl files, not to --builtin corpora");
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
    o.sp = sp;
    o.val_fraction = get<double>(vm, "val-fraction");
    data::PrepareStats st = data::prepare_builtin_stories(o);
    print_notes(st.notes);
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
  o.sp = sp;
  o.text_fields = text_fields(vm, input);
  o.val_fraction = get<double>(vm, "val-fraction");
  data::TextPrepareStats st = data::prepare_text(o);
  print_notes(st.notes);
  std::printf("wrote %s: %lld documents, %lld train + %lld val tokens (%s tokenizer)\n", out.c_str(),
              (long long)st.documents, (long long)st.train_tokens, (long long)st.val_tokens, o.tokenizer.c_str());
  if (st.skipped_empty > 0) std::printf("skipped %lld empty documents\n", (long long)st.skipped_empty);
  return 0;
}

int cmd_tokenizer(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "train")
    throw UsageError("usage: weft tokenizer train --input FILE --out PREFIX [--vocab-size N] [--text-field F] ...");
  OptionSet set("tokenizer train");
  // clang-format off
  set.group("tokenizer").add_options()
      ("input", po::value<std::string>()->required(),
       "text to learn from: a .txt or .jsonl file or a folder of them (read as `weft prepare` reads them), or any "
       "other file (one sentence or document per line)")
      ("text-field", po::value<std::string>()->default_value("text"),
       "--input .jsonl: the string field(s) to learn from, comma-separated")
      ("out", po::value<std::string>()->required(), "model prefix: writes PREFIX.model and PREFIX.vocab");
  // clang-format on
  add_sentencepiece_options(set.group("sentencepiece"));
  po::variables_map vm = set.parse(std::vector<std::string>(args.begin() + 1, args.end()));
  if (vm.count("help")) {
    std::printf("%s", set.help().c_str());
    return 0;
  }
  const std::string prefix = get<std::string>(vm, "out"), input = get<std::string>(vm, "input");
  data::SentencePieceOptions sp = sentencepiece_options(vm);
  sp.input_name = input;
  const std::vector<std::string> fields = text_fields(vm, input);
  namespace fs = std::filesystem;
  const std::string ext = fs::path(input).extension().string();
  if (!fs::exists(input)) throw UsageError("--input '" + input + "' does not exist");
  if (fs::is_directory(input) || ext == ".jsonl" || ext == ".txt") {
    // Documents as `weft prepare` reads them (JSONL: the text fields, not the raw lines), one per line of a
    // temporary corpus next to the model; messages name the user's file.
    const std::string corpus = prefix + ".corpus.tmp";
    data::DocumentReader reader(input, fields);  // fails on an unsupported input before anything is written
    try {
      {
        std::ofstream c(corpus, std::ios::binary);
        if (!c) throw UsageError("--out: cannot write '" + corpus + "' (does the folder of " + prefix + " exist?)");
        std::string doc;
        while (reader.next(doc)) c << doc << '\n';
        c.close();
        WEFT_CHECK(c.good(), "[tokenizer] writing '", corpus, "' failed (disk full?)");
        WEFT_CHECK(reader.documents() > 0, "[tokenizer] ", input, " holds no documents");
      }
      print_notes(data::train_sentencepiece(corpus, prefix, sp));
    } catch (...) {
      fs::remove(corpus);
      throw;
    }
    fs::remove(corpus);
  } else {
    print_notes(data::train_sentencepiece(input, prefix, sp));
  }
  auto tok = data::load_sentencepiece(prefix + ".model");
  std::printf("wrote %s.model (vocabulary %lld)\n", prefix.c_str(), (long long)tok->vocab_size());
  return 0;
}

}  // namespace weft::launch
