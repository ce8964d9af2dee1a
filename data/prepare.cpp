// Text and JSONL preparation.
#include "data/prepare.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/jsonl.h"
#include "data/shard.h"
#include "data/tokenizer.h"
#include "runtime/check.h"

namespace weft::data {

namespace fs = std::filesystem;

std::vector<std::string> read_documents(const std::string& path) {
  std::ifstream in(path);
  WEFT_CHECK(in, "[prepare] cannot open input '", path, "'");
  std::vector<std::string> docs;
  std::string line;
  const bool jsonl = fs::path(path).extension() == ".jsonl";
  if (jsonl) {
    for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      std::string text;
      std::string err = json_string_field(line, "text", text);
      WEFT_CHECK(err.empty(), "[prepare] ", path, ":", lineno, ": ", err);
      docs.push_back(std::move(text));
    }
    return docs;
  }
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string sep = "<|endoftext|>";
  bool has_sep = all.find("\n" + sep + "\n") != std::string::npos || all.rfind(sep + "\n", 0) == 0;
  std::string cur;
  std::istringstream ss(all);
  while (std::getline(ss, line)) {
    bool boundary = has_sep ? line == sep : line.find_first_not_of(" \t\r") == std::string::npos;
    if (boundary) {
      if (!cur.empty()) docs.push_back(cur);
      cur.clear();
      continue;
    }
    cur += (cur.empty() ? "" : "\n") + line;
  }
  if (!cur.empty()) docs.push_back(cur);
  return docs;
}

TextPrepareStats prepare_text(const TextPrepareOptions& opt) {
  WEFT_CHECK(opt.val_fraction >= 0 && opt.val_fraction < 1, "--val-fraction must be in [0, 1), got ", opt.val_fraction);
  std::vector<std::string> docs = read_documents(opt.input);
  WEFT_CHECK(!docs.empty(), "[prepare] ", opt.input, " holds no documents");
  fs::create_directories(opt.out_dir);
  std::unique_ptr<Tokenizer> tok;
  if (opt.tokenizer == "byte") {
    tok = make_byte_tokenizer();
  } else if (opt.tokenizer == "sentencepiece") {
    std::string model = opt.out_dir + "/tokenizer.model";
    if (!opt.sp_model.empty()) {
      fs::copy_file(opt.sp_model, model, fs::copy_options::overwrite_existing);
    } else {
      std::string corpus = opt.out_dir + "/tokenizer_corpus.txt";
      {
        std::ofstream c(corpus);
        for (const auto& d : docs) c << d << "\n";
      }
      train_sentencepiece(corpus, opt.out_dir + "/tokenizer", opt.sp_vocab_size);
      fs::remove(corpus);
    }
    tok = load_sentencepiece(model);
  } else {
    WEFT_FAIL("--tokenizer must be byte or sentencepiece, got '", opt.tokenizer, "'");
  }
  const int64_t every = opt.val_fraction > 0 ? std::max<int64_t>(2, std::llround(1.0 / opt.val_fraction)) : 0;
  std::vector<int32_t> train, val;
  for (size_t i = 0; i < docs.size(); ++i) {
    bool to_val = every > 0 && (docs.size() < 2 ? false : static_cast<int64_t>(i % every) == every - 1);
    std::vector<int32_t>& dst = to_val ? val : train;
    std::vector<int32_t> ids = tok->encode(docs[i]);
    dst.insert(dst.end(), ids.begin(), ids.end());
    dst.push_back(tok->eot());
  }
  if (val.empty() && every > 0) {  // too few documents: the last tokens form the validation split
    int64_t n = std::max<int64_t>(2, static_cast<int64_t>(train.size() * opt.val_fraction));
    val.assign(train.end() - std::min<int64_t>(n, train.size() / 2), train.end());
    train.resize(train.size() - val.size());
  }
  write_shard(opt.out_dir + "/train.bin", train, tok->vocab_size());
  if (!val.empty()) write_shard(opt.out_dir + "/val.bin", val, tok->vocab_size());
  save_tokenizer_description(*tok, opt.out_dir);
  return {static_cast<int64_t>(docs.size()), static_cast<int64_t>(train.size()), static_cast<int64_t>(val.size())};
}

}  // namespace weft::data
