// Embeddings file I/O (runtime/checkpoint/h5.h underneath).
#include "launch/embeddings_file.h"

#include <algorithm>
#include <filesystem>

#include "launch/options.h"
#include "runtime/checkpoint/h5.h"

namespace weft::launch {

namespace {
constexpr const char* kFormat = "weft-embeddings-1";
}

int64_t Embeddings::count(int32_t which) const {
  return static_cast<int64_t>(std::count(split.begin(), split.end(), which));
}

void write_embeddings(const std::string& path, const Embeddings& e) {
  const std::string tmp = path + ".tmp";
  {
    ckpt::H5File f = ckpt::H5File::create(tmp);
    f.write("queries", DType::f32, Shape{e.pairs, e.dim}, e.queries.data());
    f.write("documents", DType::f32, Shape{e.pairs, e.dim}, e.documents.data());
    f.write("split", DType::i32, Shape{e.pairs}, e.split.data());
    f.set_attr("format", std::string(kFormat));
    f.set_attr("model", e.model);
    f.set_attr("checkpoint", e.checkpoint);
    f.set_attr("tap", e.tap);
    f.set_attr("index", e.index);
    f.set_attr("seq_len", e.seq_len);
    f.set_attr("tokenizer", e.tokenizer);
    f.set_attr("tokenizer_vocab", e.tokenizer_vocab);
    f.set_attr("tokenizer_eot", e.tokenizer_eot);
    f.set_attr("pairs_file", e.pairs_file);
    f.set_attr("query_field", e.query_field);
    f.set_attr("document_field", e.document_field);
    f.close();
  }
  std::filesystem::rename(tmp, path);
}

Embeddings read_embeddings(const std::string& path, const std::string& flag) {
  if (!std::filesystem::is_regular_file(path)) throw UsageError(flag + ": '" + path + "' does not exist");
  ckpt::H5File f = ckpt::H5File::open_read(path);
  const std::string where = flag + " " + path + ": ";
  if (!f.has_attr("format") || f.attr_string("format") != kFormat)
    throw UsageError(where + "not an embeddings file of `weft embed` (no format = " + kFormat + " attribute)");
  for (const char* name : {"queries", "documents", "split"})
    if (!f.has(name)) throw UsageError(where + "has no dataset '" + name + "'");
  Embeddings e;
  const Shape q = f.shape_of("queries");
  if (q.rank != 2 || f.shape_of("documents") != q || f.shape_of("split") != Shape{q[0]})
    throw UsageError(where + "queries " + q.str() + ", documents " + f.shape_of("documents").str() + " and split " +
                     f.shape_of("split").str() + " do not agree (want (P, d), (P, d), (P))");
  e.pairs = q[0];
  e.dim = q[1];
  e.queries.resize(static_cast<size_t>(e.pairs * e.dim));
  e.documents.resize(e.queries.size());
  e.split.resize(static_cast<size_t>(e.pairs));
  f.read("queries", DType::f32, q, e.queries.data());
  f.read("documents", DType::f32, q, e.documents.data());
  f.read("split", DType::i32, Shape{e.pairs}, e.split.data());
  for (int64_t i = 0; i < e.pairs; ++i)
    if (e.split[i] != 0 && e.split[i] != 1)
      throw UsageError(where + "split[" + std::to_string(i) + "] = " + std::to_string(e.split[i]) +
                       " (want 0 train or 1 val)");
  e.model = f.attr_string("model");
  e.checkpoint = f.attr_string("checkpoint");
  e.tap = f.attr_string("tap");
  e.index = f.attr_int("index");
  e.seq_len = f.attr_int("seq_len");
  e.tokenizer = f.attr_string("tokenizer");
  e.tokenizer_vocab = f.attr_int("tokenizer_vocab");
  e.tokenizer_eot = f.attr_int("tokenizer_eot");
  e.pairs_file = f.attr_string("pairs_file");
  e.query_field = f.attr_string("query_field");
  e.document_field = f.attr_string("document_field");
  return e;
}

}  // namespace weft::launch
