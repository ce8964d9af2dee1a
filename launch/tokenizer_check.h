// Does a data folder use the tokenizer a checkpoint was trained with? A checkpoint records its tokenizer's
// identity (kind, vocabulary size, hash of the pieces: data/tokenizer.h); eval, sample, the analyses and
// `train --resume` refuse a folder whose tokenizer differs (exit 2, naming both), since its ids would mean
// other text (a SentencePiece model scored on byte ids, samples decoded with the wrong pieces).
#pragma once

#include <memory>
#include <string>

#include "data/tokenizer.h"
#include "launch/checkpoint.h"

namespace weft::launch {

// Throws UsageError when `tok` (the tokenizer of data_dir) is not `recorded`, a checkpoint's. checkpoint: the
// folder to name; data_flag: how the user chose data_dir ("--data", or "" when it came from the checkpoint's
// configuration). A checkpoint without the record (older weft) passes; with print_note, a note on stderr
// says the check could not be made.
void check_tokenizer_identity(const data::TokenizerIdentity& recorded, const std::string& checkpoint,
                              const data::Tokenizer& tok,
                              const std::string& data_dir, const std::string& data_flag, bool print_note);

// The tokenizer of the data folder an inference command reads: data_flag_value when given (the --data
// flag), else trained_data_dir (the checkpoint's [data] data); checked against the checkpoint as above.
// dir receives the folder used.
std::unique_ptr<data::Tokenizer> load_checked_tokenizer(const CheckpointMeta& meta, const std::string& checkpoint,
                                                        const std::string& data_flag_value,
                                                        const std::string& trained_data_dir, std::string& dir,
                                                        bool print_note);

}  // namespace weft::launch
