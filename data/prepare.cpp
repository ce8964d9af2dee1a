// Text and JSONL preparation, and the pieces the built-in corpus shares (routing, tokenizer set-up,
// parallel encoding, data.json).
#include "data/prepare.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/documents.h"
#include "data/jsonl.h"
#include "runtime/check.h"

namespace weft::data {

namespace fs = std::filesystem;

bool is_validation_document(int64_t i, double f) {
  return f > 0 && std::floor(static_cast<double>(i + 1) * f) > std::floor(static_cast<double>(i) * f);
}

DocumentRouter::DocumentRouter(const std::string& out_dir, const Tokenizer& tok, double val_fraction,
                               int64_t shard_tokens)
    : train_(out_dir, "train", tok.vocab_size(), tok.eot(), shard_tokens),
      val_(out_dir, "val", tok.vocab_size(), tok.eot(), shard_tokens),
      f_(val_fraction) {
  WEFT_CHECK(val_fraction >= 0 && val_fraction < 1, "--val-fraction must be in [0, 1), got ", val_fraction);
}

void DocumentRouter::add(std::vector<int32_t>&& ids) {
  if (n_ > 0) (is_validation_document(n_ - 1, f_) ? val_ : train_).add_document(pending_);
  pending_ = std::move(ids);
  ++n_;
}

void DocumentRouter::finish() {
  if (n_ > 0) {
    if (f_ == 0 || val_.documents() > 0) {
      (is_validation_document(n_ - 1, f_) ? val_ : train_).add_document(pending_);
    } else if (n_ >= 2) {  // too few documents for the rule: the last one validates
      val_.add_document(pending_);
    } else if (pending_.size() >= 2) {  // one document: its last f of tokens validate
      const size_t keep = std::max<size_t>(1, static_cast<size_t>(std::llround(pending_.size() * f_)));
      const size_t cut = pending_.size() - std::min(keep, pending_.size() - 1);
      train_.add_document(pending_.data(), cut);
      val_.add_document(pending_.data() + cut, pending_.size() - cut);
    } else {
      train_.add_document(pending_);
    }
  }
  train_files_ = train_.close();
  val_files_ = val_.close();
}

std::unique_ptr<Tokenizer> setup_tokenizer(const std::string& kind, const std::string& sp_model,
                                           const SentencePieceOptions& sp, const std::string& out_dir,
                                           std::vector<std::string>* notes,
                                           const std::function<void(std::ostream&)>& write_corpus) {
  if (kind == "byte") {
    WEFT_CHECK(sp_model.empty(), "--sp-model needs --tokenizer sentencepiece");
    return make_byte_tokenizer();
  }
  WEFT_CHECK(kind == "sentencepiece", "--tokenizer must be byte or sentencepiece, got '", kind, "'");
  fs::create_directories(out_dir);
  const std::string model = (fs::path(out_dir) / "tokenizer.model").string();
  if (!sp_model.empty()) {
    WEFT_CHECK(fs::is_regular_file(sp_model), "--sp-model '", sp_model, "' does not exist");
    std::error_code ec;
    if (!fs::equivalent(sp_model, model, ec)) fs::copy_file(sp_model, model, fs::copy_options::overwrite_existing);
    return load_sentencepiece(model);
  }
  const std::string corpus = (fs::path(out_dir) / "tokenizer_corpus.txt.tmp").string();
  {
    std::ofstream c(corpus, std::ios::binary);
    WEFT_CHECK(c, "[prepare] cannot write '", corpus, "'");
    write_corpus(c);
    c.close();
    WEFT_CHECK(c.good(), "[prepare] writing '", corpus, "' failed (disk full?)");
  }
  try {
    SentencePieceOptions named = sp;
    if (named.input_name.empty()) named.input_name = "the tokenizer's training text";
    std::vector<std::string> advice = train_sentencepiece(corpus, (fs::path(out_dir) / "tokenizer").string(), named);
    if (notes) notes->insert(notes->end(), advice.begin(), advice.end());
  } catch (...) {
    fs::remove(corpus);
    throw;
  }
  fs::remove(corpus);
  return load_sentencepiece(model);
}

std::string tokenizer_origin_json(const std::string& kind, const std::string& sp_model,
                                  const SentencePieceOptions& sp) {
  if (kind != "sentencepiece") return "";
  if (!sp_model.empty()) return "\"sentencepiece_model\": \"" + json_escape_string(sp_model) + "\"";
  return "\"sentencepiece_training\": " + sentencepiece_options_json(sp);
}

std::vector<std::vector<int32_t>> encode_documents(const Tokenizer& tok, const std::vector<std::string>& docs) {
  std::vector<std::vector<int32_t>> out(docs.size());
  const int64_t n = static_cast<int64_t>(docs.size());
  // Each document is encoded independently, so the order of work does not matter. A failed encode is
  // rethrown after the loop (exceptions must not leave an OpenMP region).
  std::string error;
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t i = 0; i < n; ++i) {
    try {
      out[i] = tok.encode(docs[i]);
    } catch (const std::exception& e) {
#pragma omp critical(weft_encode_error)
      if (error.empty()) error = e.what();
    }
  }
  WEFT_CHECK(error.empty(), error);
  return out;
}

void write_data_summary(const std::string& out_dir, const std::string& source, const Tokenizer& tok, int64_t documents,
                        int64_t train_tokens, int64_t val_tokens, const std::vector<std::string>& train_files,
                        const std::vector<std::string>& val_files, const std::string& extra) {
  auto names = [](const std::vector<std::string>& files) {
    std::string s = "[";
    for (size_t i = 0; i < files.size(); ++i)
      s += (i ? ", \"" : "\"") + json_escape_string(fs::path(files[i]).filename().string()) + "\"";
    return s + "]";
  };
  const std::string path = (fs::path(out_dir) / "data.json").string();
  std::ofstream o(path);
  o << "{\n  \"source\": \"" << json_escape_string(source) << "\",\n  \"tokenizer\": \""
    << json_escape_string(tok.description()) << "\",\n  \"vocab_size\": " << tok.vocab_size()
    << ",\n  \"eot\": " << tok.eot() << ",\n  \"documents\": " << documents << ",\n  \"train_tokens\": " << train_tokens
    << ",\n  \"val_tokens\": " << val_tokens << ",\n  \"train_shards\": " << names(train_files)
    << ",\n  \"val_shards\": " << names(val_files) << (extra.empty() ? "" : ",\n  ") << extra << "\n}\n";
  o.close();
  WEFT_CHECK(o.good(), "[prepare] cannot write ", path);
}

TextPrepareStats prepare_text(const TextPrepareOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  WEFT_CHECK(opt.val_fraction >= 0 && opt.val_fraction < 1, "--val-fraction must be in [0, 1), got ", opt.val_fraction);
  WEFT_CHECK(!opt.out_dir.empty(), "[prepare] no output folder given");
  DocumentReader probe(opt.input, opt.text_fields);  // fails early on a missing or unsupported input
  SentencePieceOptions sp = opt.sp;
  if (sp.input_name.empty()) sp.input_name = opt.input;
  std::vector<std::string> notes;
  auto tok = setup_tokenizer(opt.tokenizer, opt.sp_model, sp, opt.out_dir, &notes, [&](std::ostream& corpus) {
    DocumentReader r(opt.input, opt.text_fields);
    std::string doc;
    int64_t bytes = 0;
    while (bytes < opt.sp_train_bytes && r.next(doc)) {
      corpus << doc << '\n';
      bytes += static_cast<int64_t>(doc.size()) + 1;
    }
  });

  DocumentReader reader(opt.input, opt.text_fields);
  DocumentRouter router(opt.out_dir, *tok, opt.val_fraction, opt.shard_tokens);
  std::vector<std::string> batch;
  bool more = true;
  while (more) {  // batches of documents: read, encode in parallel, route in order
    batch.clear();
    size_t bytes = 0;
    std::string doc;
    while (batch.size() < 4096 && bytes < (size_t(32) << 20) && (more = reader.next(doc))) {
      bytes += doc.size();
      batch.push_back(std::move(doc));
    }
    for (auto& ids : encode_documents(*tok, batch)) router.add(std::move(ids));
  }
  WEFT_CHECK(router.documents() > 0, "[prepare] ", opt.input, " holds no documents");
  router.finish();
  save_tokenizer_description(*tok, opt.out_dir);
  write_data_summary(opt.out_dir, fs::absolute(opt.input).string(), *tok, router.documents(), router.train_tokens(),
                     router.val_tokens(), router.train_files(), router.val_files(),
                     tokenizer_origin_json(opt.tokenizer, opt.sp_model, sp));
  TextPrepareStats st;
  st.documents = router.documents();
  st.train_tokens = router.train_tokens();
  st.val_tokens = router.val_tokens();
  st.skipped_empty = reader.skipped_empty();
  st.train_shards = static_cast<int64_t>(router.train_files().size());
  st.val_shards = static_cast<int64_t>(router.val_files().size());
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  st.notes = std::move(notes);
  return st;
}

}  // namespace weft::data
