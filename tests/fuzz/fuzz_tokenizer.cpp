// Fuzzes the tokenizer loaders (data/tokenizer.h) through a data folder, as `weft train --data DIR` loads
// them: the input is packed as TOKENIZER_TXT '\0' MODEL_FILE (tokenizer.txt and tokenizer.model; no '\0':
// only tokenizer.txt) and loaded with load_tokenizer(DIR), which reads "byte", "symbols N" or
// "sentencepiece FILE" and then parses a SentencePiece model file. Any input must either be rejected with a
// weft::Error naming the file or give a tokenizer whose encode/decode work: ids in [0, vocab), end-of-text
// inside the vocabulary, and decode(encode(text)) == text for the byte-level tokenizer.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "runtime/check.h"
#include "tests/fuzz/fuzz_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = weft::fuzz::scratch_dir("tokenizer") + "/data";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view txt = input.substr(0, nul);
  // A path in tokenizer.txt is the user's to choose; the fuzzer only gets files of this folder (an absolute
  // path or ".." could name /dev/zero, which no loader is expected to survive).
  if (txt.find('/') != std::string_view::npos || txt.find("..") != std::string_view::npos) return 0;
  weft::fuzz::write_file(dir + "/tokenizer.txt", txt);
  if (nul != std::string_view::npos) weft::fuzz::write_file(dir + "/tokenizer.model", input.substr(nul + 1));
  std::unique_ptr<weft::data::Tokenizer> tok;
  try {
    tok = weft::data::load_tokenizer(dir);
  } catch (const weft::Error&) {
    return 0;
  }
  const int64_t vocab = tok->vocab_size();
  if (vocab <= 0 || tok->eot() < 0 || tok->eot() >= vocab) std::abort();
  const std::string text(input.substr(0, std::min<size_t>(input.size(), 256)));
  try {
    const std::vector<int32_t> ids = tok->encode(text);
    for (int32_t id : ids)
      if (id < 0 || id >= vocab) std::abort();
    const std::string back = tok->decode(ids);
    if (tok->name() == "byte" && back != text) std::abort();
    // Any ids, in range or not, decode without failing (out-of-range ids are skipped).
    std::vector<int32_t> any;
    for (size_t i = 0; i + 4 <= text.size(); i += 4) {
      int32_t id = 0;
      std::memcpy(&id, text.data() + i, 4);
      any.push_back(id);
    }
    tok->decode(any);
  } catch (const weft::Error&) {
    // SentencePiece reporting an encode/decode failure through its status is a message, not a crash.
  }
  return 0;
}
