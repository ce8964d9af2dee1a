// Token shard writer (streaming, atomic rename) and mmap reader (validated once at open).
// The header layout is the Header struct below; docs/data-format.md has the table.
#include "data/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "runtime/check.h"

namespace weft::data {

namespace {

constexpr char kMagic[8] = {'W', 'E', 'F', 'T', 'T', 'O', 'K', '1'};
constexpr size_t kBufferBytes = size_t(1) << 20;

struct Header {  // little-endian on disk (runtime/checksum.h asserts a little-endian host)
  char magic[8];
  uint32_t version;
  uint32_t width;            // bytes per token: 2 (uint16) or 4 (uint32)
  uint64_t count;            // tokens
  uint32_t vocab_size;       // every token is below it
  int32_t eot;               // end-of-text id, -1: none
  uint64_t documents;        // end-of-text tokens written
  uint64_t token_checksum;   // tok64 of the token bytes
  uint64_t reserved;         // 0
  uint64_t header_checksum;  // tok64 of header bytes [0, 56)
};
static_assert(sizeof(Header) == kShardHeaderBytes);
static_assert(offsetof(Header, header_checksum) == 56);

uint64_t header_checksum(const Header& h) { return tok64(&h, offsetof(Header, header_checksum)); }

}  // namespace

ShardWriter::ShardWriter(std::string path, int64_t vocab_size, int32_t eot)
    : path_(std::move(path)), tmp_(path_ + ".tmp"), vocab_(vocab_size), eot_(eot) {
  WEFT_CHECK(vocab_size > 0 && vocab_size <= int64_t(INT32_MAX), "[data] ", path_, ": bad vocabulary size ",
             vocab_size);  // ids are int32_t
  WEFT_CHECK(eot >= -1 && eot < vocab_size, "[data] ", path_, ": end-of-text id ", eot, " outside the vocabulary");
  width_ = vocab_size <= 65536 ? 2 : 4;
  file_ = std::fopen(tmp_.c_str(), "wb");
  WEFT_CHECK(file_, "[data] cannot create '", tmp_, "': ", std::strerror(errno));
  Header zero{};
  WEFT_CHECK(std::fwrite(&zero, sizeof zero, 1, file_) == 1, "[data] writing '", tmp_,
             "' failed: ", std::strerror(errno));
  buffer_.resize(kBufferBytes);
}

ShardWriter::~ShardWriter() {
  if (file_) {  // not closed: an exception unwound past us; leave no partial file behind
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
}

void ShardWriter::append(const int32_t* ids, size_t n) {
  WEFT_CHECK(file_, "[data] ", path_, ": append after close");
  for (size_t i = 0; i < n; ++i) {
    const int32_t t = ids[i];
    WEFT_CHECK(t >= 0 && t < vocab_, "[data] ", path_, ": token ", t, " at position ", count_ + int64_t(i),
               " is outside the vocabulary [0, ", vocab_, ")");
    documents_ += t == eot_;
    if (pos_ + width_ > buffer_.size()) flush_buffer();
    if (width_ == 2) {
      const uint16_t v = static_cast<uint16_t>(t);
      std::memcpy(buffer_.data() + pos_, &v, 2);
    } else {
      const uint32_t v = static_cast<uint32_t>(t);
      std::memcpy(buffer_.data() + pos_, &v, 4);
    }
    pos_ += width_;
  }
  count_ += static_cast<int64_t>(n);
}

void ShardWriter::flush_buffer() {
  if (pos_ == 0) return;
  sum_.update(buffer_.data(), pos_);
  WEFT_CHECK(std::fwrite(buffer_.data(), 1, pos_, file_) == pos_, "[data] writing '", tmp_,
             "' failed: ", std::strerror(errno));
  pos_ = 0;
}

void ShardWriter::close() {
  WEFT_CHECK(file_, "[data] ", path_, ": closed twice");
  flush_buffer();
  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = kShardVersion;
  h.width = width_;
  h.count = static_cast<uint64_t>(count_);
  h.vocab_size = static_cast<uint32_t>(vocab_);
  h.eot = eot_;
  h.documents = static_cast<uint64_t>(documents_);
  h.token_checksum = sum_.finish();
  h.header_checksum = header_checksum(h);
  bool ok = std::fseek(file_, 0, SEEK_SET) == 0 && std::fwrite(&h, sizeof h, 1, file_) == 1 &&
            std::fflush(file_) == 0 && ::fsync(fileno(file_)) == 0;
  const int err = errno;
  ok = std::fclose(file_) == 0 && ok;
  file_ = nullptr;
  if (!ok) {
    std::remove(tmp_.c_str());
    WEFT_FAIL("[data] writing '", tmp_, "' failed: ", std::strerror(err), " (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp_, path_, ec);
  WEFT_CHECK(!ec, "[data] cannot rename '", tmp_, "' to '", path_, "': ", ec.message());
}

void write_shard(const std::string& path, const std::vector<int32_t>& tokens, int64_t vocab_size, int32_t eot) {
  ShardWriter w(path, vocab_size, eot);
  w.append(tokens);
  w.close();
}

Shard::Shard(const std::string& path, int64_t max_vocab) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  WEFT_CHECK(fd >= 0, "[data] cannot open shard '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    WEFT_FAIL("[data] cannot stat shard '", path, "': ", std::strerror(err));
  }
  const size_t bytes = static_cast<size_t>(st.st_size);
  if (bytes < kShardHeaderBytes) {
    ::close(fd);
    WEFT_FAIL("[data] shard '", path, "' is truncated: ", bytes, " bytes, smaller than the 64-byte header");
  }
  map_ = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    WEFT_FAIL("[data] cannot mmap shard '", path, "': ", std::strerror(err));
  }
  map_bytes_ = bytes;
  try {
    verify(max_vocab);
  } catch (...) {
    ::munmap(map_, map_bytes_);
    map_ = nullptr;
    throw;
  }
}

void Shard::verify(int64_t max_vocab) {
  Header h;
  std::memcpy(&h, map_, sizeof h);
  auto fail = [&](auto&&... msg) { WEFT_FAIL("[data] shard '", path_, "': ", msg...); };
  if (std::memcmp(h.magic, kMagic, 8) != 0) fail("bad magic (not a weft token shard)");
  if (h.version != kShardVersion)
    fail("unknown format version ", h.version, " (this weft reads version ", kShardVersion,
         h.version < kShardVersion ? "; re-run `weft prepare`)" : "; use a newer weft)");
  if (header_checksum(h) != h.header_checksum) fail("header checksum mismatch (corrupt header)");
  if (h.width != 2 && h.width != 4) fail("bad token width ", h.width);
  // Ids are read as int32_t: a vocabulary above INT32_MAX would turn large ids negative (found by fuzz_shard).
  if (h.vocab_size == 0 || h.vocab_size > uint32_t(INT32_MAX) || (h.width == 2) != (h.vocab_size <= 65536))
    fail("bad vocabulary size ", h.vocab_size, " for width ", h.width);
  if (h.eot < -1 || int64_t(h.eot) >= int64_t(h.vocab_size))
    fail("end-of-text id ", h.eot, " outside the vocabulary of ", h.vocab_size);
  const uint64_t body = map_bytes_ - kShardHeaderBytes;
  if (h.count > body / h.width) {  // no overflow for absurd counts
    if (h.count > (UINT64_MAX - kShardHeaderBytes) / h.width)
      fail("truncated: ", map_bytes_, " bytes on disk, the header promises ", h.count, " tokens");
    fail("truncated: ", map_bytes_, " bytes on disk, the header promises ", kShardHeaderBytes + h.count * h.width);
  }
  const uint64_t expect = kShardHeaderBytes + h.count * h.width;
  if (map_bytes_ > expect)
    fail("has ", map_bytes_ - expect, " bytes after the last token (", map_bytes_, " on disk, header promises ", expect,
         ")");
  width_ = static_cast<int>(h.width);
  count_ = static_cast<int64_t>(h.count);
  vocab_ = h.vocab_size;
  eot_ = h.eot;
  documents_ = static_cast<int64_t>(h.documents);
  tokens_ = static_cast<const char*>(map_) + kShardHeaderBytes;
  if (max_vocab > 0 && vocab_ > max_vocab) fail("vocabulary of ", vocab_, " exceeds the model's ", max_vocab);
  // One pass in 1 MiB chunks: checksum and the largest id (both vectorise), read ahead sequentially.
  ::madvise(map_, map_bytes_, MADV_SEQUENTIAL);
  Tok64 sum;
  const size_t total = h.count * h.width, chunk = size_t(1) << 20;
  const unsigned char* p = static_cast<const unsigned char*>(tokens_);
  uint32_t largest = 0;
  for (size_t off = 0; off < total; off += chunk) {
    const size_t n = std::min(chunk, total - off);
    sum.update(p + off, n);
    if (width_ == 2) {
      const uint16_t* t = reinterpret_cast<const uint16_t*>(p + off);
      uint16_t m = 0;
      for (size_t i = 0; i < n / 2; ++i) m = std::max(m, t[i]);
      largest = std::max<uint32_t>(largest, m);
    } else {
      const uint32_t* t = reinterpret_cast<const uint32_t*>(p + off);
      uint32_t m = 0;
      for (size_t i = 0; i < n / 4; ++i) m = std::max(m, t[i]);
      largest = std::max(largest, m);
    }
  }
  ::madvise(map_, map_bytes_, MADV_RANDOM);  // training reads windows in shuffled order
  if (sum.finish() != h.token_checksum) fail("token checksum mismatch (corrupt token data)");
  if (largest >= h.vocab_size) {
    for (int64_t i = 0; i < count_; ++i)
      if (static_cast<uint32_t>(at(i)) >= h.vocab_size)
        fail("token ", static_cast<uint32_t>(at(i)), " at position ", i, " is >= the vocabulary size ", vocab_);
  }
}

Shard::~Shard() {
  if (map_) ::munmap(map_, map_bytes_);
}

Shard::Shard(Shard&& o) noexcept
    : path_(std::move(o.path_)),
      map_(o.map_),
      map_bytes_(o.map_bytes_),
      tokens_(o.tokens_),
      count_(o.count_),
      vocab_(o.vocab_),
      documents_(o.documents_),
      eot_(o.eot_),
      width_(o.width_) {
  o.map_ = nullptr;
}

void Shard::copy(int64_t begin, int64_t n, int32_t* out) const {
  WEFT_CHECK(begin >= 0 && n >= 0 && begin + n <= count_, "[data] shard '", path_, "': range [", begin, ", ", begin + n,
             ") outside ", count_, " tokens");
  if (width_ == 2) {
    const uint16_t* t = static_cast<const uint16_t*>(tokens_) + begin;
    for (int64_t i = 0; i < n; ++i) out[i] = t[i];
  } else {
    const uint32_t* t = static_cast<const uint32_t*>(tokens_) + begin;
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int32_t>(t[i]);
  }
}

}  // namespace weft::data
