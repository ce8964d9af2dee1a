// The embeddings file `weft embed` writes and `weft retrieval` reads (HDF5):
//   queries    (P, d) f32   the query embedding of each pair
//   documents  (P, d) f32   the document embedding of each pair
//   split      (P)    i32   0 train, 1 val
// and root attributes recording where they came from (generative model, checkpoint, tap, position, L,
// tokenizer), so a later stage can refuse embeddings of another model or tokenizer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::launch {

struct Embeddings {
  int64_t pairs = 0, dim = 0;
  std::vector<float> queries, documents;  // (P, d) row-major
  std::vector<int32_t> split;             // (P)
  // Provenance (root attributes of the same names).
  std::string model;       // the generative model's family (transformer, mixer, ...)
  std::string checkpoint;  // the checkpoint folder it was loaded from
  std::string tap;         // the tap read ("final", "blocks.3.out", ...)
  int64_t index = -1;      // the position read (negative: from the end)
  int64_t seq_len = 0;     // L: every text truncated / right-padded to it
  std::string tokenizer;   // the tokenizer's kind ("byte", "sentencepiece")
  int64_t tokenizer_vocab = 0, tokenizer_eot = -1;
  std::string pairs_file, query_field, document_field;

  int64_t count(int32_t which) const;  // pairs of split `which`
};

// Writes path.tmp, then renames it over path. Throws naming the file.
void write_embeddings(const std::string& path, const Embeddings& e);
// Reads and validates (datasets present, shapes agree, split in {0, 1}); a missing file or another layout is
// a UsageError naming `flag` and the file.
Embeddings read_embeddings(const std::string& path, const std::string& flag = "--embeddings");

}  // namespace weft::launch
