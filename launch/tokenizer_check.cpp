// check_tokenizer_identity / load_checked_tokenizer: a checkpoint's recorded tokenizer against a data folder's.
#include "launch/tokenizer_check.h"

#include <cstdio>

#include "launch/options.h"

namespace weft::launch {

void check_tokenizer_identity(const data::TokenizerIdentity& recorded, const std::string& checkpoint,
                              const data::Tokenizer& tok,
                              const std::string& data_dir, const std::string& data_flag, bool print_note) {
  const std::string where = data_flag.empty() ? "its training data folder " + data_dir + " (the configuration's "
                                                "[data] data) now"
                                              : data_flag + " " + data_dir;
  if (recorded.kind.empty()) {
    if (print_note)
      std::fprintf(stderr,
                   "note: checkpoint %s records no tokenizer (saved by an older weft): cannot check that %s uses the "
                   "tokenizer it was trained with\n",
                   checkpoint.c_str(), where.c_str());
    return;
  }
  const data::TokenizerIdentity have = data::tokenizer_identity(tok);
  if (have == recorded) return;
  throw UsageError("checkpoint " + checkpoint + " was trained with tokenizer " + data::describe(recorded) +
                   " but " + where + " has " + data::describe(have) +
                   ": its token ids would mean other text (give --data a folder prepared with the same tokenizer; "
                   "`weft prepare --tokenizer sentencepiece --sp-model FILE` reuses a SentencePiece model)");
}

std::unique_ptr<data::Tokenizer> load_checked_tokenizer(const CheckpointMeta& meta, const std::string& checkpoint,
                                                        const std::string& data_flag_value,
                                                        const std::string& trained_data_dir, std::string& dir,
                                                        bool print_note) {
  dir = data_flag_value.empty() ? trained_data_dir : data_flag_value;
  auto tok = data::load_tokenizer(dir);
  check_tokenizer_identity(meta.tokenizer, checkpoint, *tok, dir, data_flag_value.empty() ? "" : "--data", print_note);
  return tok;
}

}  // namespace weft::launch
