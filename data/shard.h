// Token shards (format in docs/data-format.md): a 64-byte little-endian header (magic "WEFTTOK1", version,
// token width, count, vocabulary size, end-of-text id, document count, tok64 checksums of the tokens and
// of the header) followed by the tokens as uint16 (vocab <= 65536) or uint32. Writers stream to a
// temporary file and rename it when complete; readers mmap the file and validate it once at open (size,
// magic, version, header and token checksums, every id < vocab). Every rejection names the file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/checksum.h"

namespace weft::data {

constexpr uint32_t kShardVersion = 2;
constexpr size_t kShardHeaderBytes = 64;

// Writes a shard incrementally: append tokens, then close(). Until close() succeeds the data lies in
// "<path>.tmp" (removed by the destructor), so a crash never leaves a file that looks complete.
class ShardWriter {
 public:
  // eot: the tokenizer's end-of-text id recorded in the header (-1: none); documents are counted by it.
  ShardWriter(std::string path, int64_t vocab_size, int32_t eot = -1);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  void append(const int32_t* ids, size_t n);  // throws naming the position of an id outside [0, vocab)
  void append(const std::vector<int32_t>& ids) { append(ids.data(), ids.size()); }
  void close();
  int64_t count() const { return count_; }
  const std::string& path() const { return path_; }

 private:
  void flush_buffer();
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  int64_t vocab_, count_ = 0, documents_ = 0;
  int32_t eot_;
  uint32_t width_;
  std::vector<unsigned char> buffer_;
  size_t pos_ = 0;
  Tok64 sum_;
};

// One-shot writer (a ShardWriter over a vector).
void write_shard(const std::string& path, const std::vector<int32_t>& tokens, int64_t vocab_size, int32_t eot = -1);

class Shard {
 public:
  // max_vocab > 0: also reject a shard whose vocabulary is larger than the model's.
  explicit Shard(const std::string& path, int64_t max_vocab = 0);
  ~Shard();
  Shard(Shard&& o) noexcept;
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  Shard& operator=(Shard&&) = delete;

  int64_t size() const { return count_; }  // tokens
  int64_t vocab_size() const { return vocab_; }
  int32_t eot() const { return eot_; }              // -1 when the writer recorded none
  int64_t documents() const { return documents_; }  // end-of-text tokens in the shard
  int width() const { return width_; }              // bytes per token: 2 or 4
  int32_t at(int64_t i) const {
    return width_ == 2 ? static_cast<const uint16_t*>(tokens_)[i]
                       : static_cast<int32_t>(static_cast<const uint32_t*>(tokens_)[i]);
  }
  void copy(int64_t begin, int64_t n, int32_t* out) const;  // tokens [begin, begin + n)
  const std::string& path() const { return path_; }

 private:
  void verify(int64_t max_vocab);
  std::string path_;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  const void* tokens_ = nullptr;
  int64_t count_ = 0, vocab_ = 0, documents_ = 0;
  int32_t eot_ = -1;
  int width_ = 2;
};

}  // namespace weft::data
