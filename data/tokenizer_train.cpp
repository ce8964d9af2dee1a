// SentencePiece training (train_sentencepiece): the trainer options weft exposes, SentencePiece's log
// captured and its advice restated in weft's flag names, the user's file named instead of a temporary copy.
// Uses the key/value form of the trainer API (paths need no quoting).
#include <sentencepiece_trainer.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <unordered_map>

#include "data/jsonl.h"
#include "data/tokenizer.h"
#include "runtime/check.h"

namespace weft::data {

namespace fs = std::filesystem;

namespace {

// Trainer options exposed as weft flags: SentencePiece's name, weft's flag.
const std::pair<const char*, const char*> kFlagNames[] = {
    {"vocab_size", "--vocab-size"},
    {"model_type", "--model-type"},
    {"character_coverage", "--character-coverage"},
    {"normalization_rule_name", "--normalization-rule-name"},
    {"remove_extra_whitespaces", "--remove-extra-whitespaces"},
    {"allow_whitespace_only_pieces", "--allow-whitespace-only-pieces"},
    {"treat_whitespace_as_suffix", "--treat-whitespace-as-suffix"},
    {"split_digits", "--split-digits"},
    {"byte_fallback", "--byte-fallback"},
};

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

// A SentencePiece message in weft's terms: its option names as weft's flags, the training copy as the
// user's file.
std::string in_weft_terms(std::string msg, const std::string& input, const std::string& input_name) {
  if (input_name != input) replace_all(msg, input, input_name);
  for (const auto& [sp, flag] : kFlagNames) {
    replace_all(msg, std::string("--") + sp, flag);
    replace_all(msg, std::string("trainer_spec.") + sp + "()", flag);  // a failed CHECK's expression
    std::string out;  // the bare name, where it is a whole word
    const std::string name = sp;
    size_t pos = 0;
    for (size_t at = msg.find(name); at != std::string::npos; at = msg.find(name, at + 1)) {
      auto part_of_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'; };
      const size_t e = at + name.size();
      const bool word_start = at == 0 || !part_of_name(msg[at - 1]);
      const bool word_end = e >= msg.size() || !(std::isalnum(static_cast<unsigned char>(msg[e])) || msg[e] == '_' ||
                                                 msg[e] == '(');
      if (!word_start || !word_end) continue;
      out += msg.substr(pos, at - pos) + flag;
      pos = e;
    }
    msg = out + msg.substr(pos);
  }
  return msg;
}

// Runs fn with the process's stderr (file descriptor 2, where SentencePiece logs) sent to a temporary file;
// returns what was written there. Restores stderr also when fn throws.
std::string capture_stderr(const std::function<void()>& fn) {
  std::fflush(stderr);
  FILE* log = std::tmpfile();
  if (!log) {  // cannot capture: run with the log on the terminal
    fn();
    return "";
  }
  const int saved = ::dup(2);
  ::dup2(::fileno(log), 2);
  auto restore = [&] {
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
  };
  try {
    fn();
  } catch (...) {
    restore();
    std::fclose(log);
    throw;
  }
  restore();
  std::string text;
  std::rewind(log);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, log)) > 0;) text.append(buf, n);
  std::fclose(log);
  return text;
}

// SentencePiece's log lines worth showing: its warnings and errors, and the INFO lines that advise.
std::vector<std::string> advice_in_log(const std::string& log, const std::string& input, const std::string& input_name) {
  std::vector<std::string> out;
  std::istringstream in(log);
  std::string line;
  bool too_long = false;  // SentencePiece says so once, with a flag weft does not expose
  while (std::getline(in, line)) {
    if (line.find("Found too long line") != std::string::npos || line.find("Too long lines") != std::string::npos ||
        line.find("max_sentence_length") != std::string::npos) {
      too_long = true;
      continue;
    }
    const size_t tag = line.find(") LOG(");
    const bool warning = line.find("LOG(WARNING)") != std::string::npos || line.find("LOG(ERROR)") != std::string::npos;
    const bool advice = line.find("Too many sentences") != std::string::npos;
    // BPE's "No valid symbol found": it ran out of merges; train_sentencepiece says so in weft's terms.
    if ((!warning && !advice) || line.find("No valid symbol found") != std::string::npos) continue;
    const size_t body = tag == std::string::npos ? 0 : line.find(')', tag + 6);
    std::string text = body == 0 ? line : line.substr(body + 2);
    out.push_back("SentencePiece: " + in_weft_terms(text, input, input_name));
  }
  if (too_long)
    out.push_back("SentencePiece left the lines of " + input_name +
                  " longer than 16384 bytes out of its training (they are tokenized all the same)");
  return out;
}

}  // namespace

std::vector<std::string> train_sentencepiece(const std::string& input, const std::string& prefix,
                                             const SentencePieceOptions& opt) {
  const std::string name = opt.input_name.empty() ? input : opt.input_name;
  // 256 byte pieces + <unk> + </s> + the characters of the corpus must fit.
  if (opt.byte_fallback)
    WEFT_CHECK(opt.vocab_size >= 320, "--vocab-size must be >= 320 for a SentencePiece model with byte fallback (256 ",
               "byte pieces, the special pieces and the characters), got ", opt.vocab_size,
               "; smaller vocabularies: --tokenizer byte");
  WEFT_CHECK(opt.model_type == "bpe" || opt.model_type == "unigram", "--model-type must be bpe or unigram, got '",
             opt.model_type, "'");
  WEFT_CHECK(opt.character_coverage >= 0.98 && opt.character_coverage <= 1,
             "--character-coverage must be in [0.98, 1] (SentencePiece's range), got ", opt.character_coverage);
  WEFT_CHECK(fs::is_regular_file(input), "[tokenizer] training input '", name, "' does not exist");
  WEFT_CHECK(fs::file_size(input) > 0, "[tokenizer] training input '", name, "' is empty");
  const std::unordered_map<std::string, std::string> args = {
      {"input", input},
      {"model_prefix", prefix},
      {"vocab_size", std::to_string(opt.vocab_size)},
      {"model_type", opt.model_type},
      {"character_coverage", std::to_string(opt.character_coverage)},
      {"byte_fallback", opt.byte_fallback ? "true" : "false"},
      {"unk_id", "0"},
      {"eos_id", "1"},
      {"bos_id", "-1"},
      {"pad_id", "-1"},
      {"hard_vocab_limit", "false"},  // a small corpus may not support the requested size
      {"input_sentence_size", std::to_string(opt.max_sentences)},
      {"shuffle_input_sentence", "true"},
      {"max_sentence_length", "16384"},
      {"normalization_rule_name", opt.normalization},
      {"remove_extra_whitespaces", opt.remove_extra_whitespaces ? "true" : "false"},
      {"allow_whitespace_only_pieces", opt.allow_whitespace_only_pieces ? "true" : "false"},
      {"treat_whitespace_as_suffix", opt.treat_whitespace_as_suffix ? "true" : "false"},
      {"split_digits", opt.split_digits ? "true" : "false"},
      {"num_threads", std::to_string(std::max(1, opt.threads))},
      {"minloglevel", "0"},  // all of it, captured: the advice is among the INFO lines
  };
  sentencepiece::util::Status st;
  const std::string log = capture_stderr([&] { st = sentencepiece::SentencePieceTrainer::Train(args); });
  WEFT_CHECK(st.ok(), "[tokenizer] SentencePiece training on '", name, "' failed: ",
             in_weft_terms(st.ToString(), input, name));
  std::vector<std::string> advice = advice_in_log(log, input, name);
  const int64_t learned = load_sentencepiece(prefix + ".model")->vocab_size();
  if (learned < opt.vocab_size)
    advice.push_back("SentencePiece learned " + std::to_string(learned) + " pieces, fewer than --vocab-size " +
                     std::to_string(opt.vocab_size) + ": " + name +
                     " supports no more (more text, or --vocab-size " + std::to_string(learned) + " or less)");
  return advice;
}

std::vector<std::string> train_sentencepiece(const std::string& input, const std::string& prefix, int vocab_size) {
  SentencePieceOptions opt;
  opt.vocab_size = vocab_size;
  return train_sentencepiece(input, prefix, opt);
}

std::string sentencepiece_options_json(const SentencePieceOptions& opt) {
  auto b = [](bool v) { return v ? "true" : "false"; };
  std::ostringstream o;
  o << "{\"model_type\": \"" << json_escape_string(opt.model_type) << "\", \"vocab_size\": " << opt.vocab_size
    << ", \"split_digits\": " << b(opt.split_digits) << ", \"normalization_rule_name\": \""
    << json_escape_string(opt.normalization) << "\", \"remove_extra_whitespaces\": " << b(opt.remove_extra_whitespaces)
    << ", \"byte_fallback\": " << b(opt.byte_fallback)
    << ", \"allow_whitespace_only_pieces\": " << b(opt.allow_whitespace_only_pieces)
    << ", \"treat_whitespace_as_suffix\": " << b(opt.treat_whitespace_as_suffix)
    << ", \"character_coverage\": " << opt.character_coverage << "}";
  return o.str();
}

}  // namespace weft::data
