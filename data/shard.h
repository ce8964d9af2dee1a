// Token shards (format in docs/data-format.md): a 64-byte little-endian header (magic "WEFTTOK1",
// version, token width, count, vocab size, checksum of the token bytes) followed by the tokens as
// uint16 (vocab <= 65536) or uint32. Readers mmap the file and validate it once at open: size, magic,
// version, checksum, every id < vocab. Every rejection names the file and the problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::data {

void write_shard(const std::string& path, const std::vector<int32_t>& tokens, int64_t vocab_size);

class Shard {
 public:
  // max_vocab > 0: also reject a shard whose vocabulary is larger than the model's.
  explicit Shard(const std::string& path, int64_t max_vocab = 0);
  ~Shard();
  Shard(Shard&& o) noexcept;
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  int64_t size() const { return count_; }
  int64_t vocab_size() const { return vocab_; }
  int32_t at(int64_t i) const {
    return width_ == 2 ? static_cast<const uint16_t*>(tokens_)[i] : static_cast<int32_t>(static_cast<const uint32_t*>(tokens_)[i]);
  }
  void copy(int64_t begin, int64_t n, int32_t* out) const;  // tokens [begin, begin + n)
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  const void* tokens_ = nullptr;
  int64_t count_ = 0, vocab_ = 0;
  int width_ = 2;
};

}  // namespace weft::data
