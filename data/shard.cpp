// Token shard writer and mmap reader.
#include "data/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "runtime/check.h"
#include "runtime/checksum.h"

namespace weft::data {

namespace {

constexpr char kMagic[8] = {'W', 'E', 'F', 'T', 'T', 'O', 'K', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 64;

struct Header {  // little-endian on disk; weft targets little-endian machines
  char magic[8];
  uint32_t version;
  uint32_t width;       // bytes per token: 2 or 4
  uint64_t count;       // tokens
  uint32_t vocab_size;
  uint32_t reserved0;
  uint64_t checksum;    // checksum64 of the token bytes
  uint8_t reserved[24];
};
static_assert(sizeof(Header) == kHeaderBytes);

}  // namespace

void write_shard(const std::string& path, const std::vector<int32_t>& tokens, int64_t vocab_size) {
  WEFT_CHECK(vocab_size > 0 && vocab_size <= (int64_t(1) << 32) - 1, "[data] ", path, ": bad vocabulary size ", vocab_size);
  const uint32_t width = vocab_size <= 65536 ? 2 : 4;
  std::vector<char> body(tokens.size() * width);
  for (size_t i = 0; i < tokens.size(); ++i) {
    WEFT_CHECK(tokens[i] >= 0 && tokens[i] < vocab_size, "[data] ", path, ": token ", tokens[i], " at position ", i,
               " is outside the vocabulary [0, ", vocab_size, ")");
    if (width == 2) {
      uint16_t v = static_cast<uint16_t>(tokens[i]);
      std::memcpy(body.data() + i * 2, &v, 2);
    } else {
      uint32_t v = static_cast<uint32_t>(tokens[i]);
      std::memcpy(body.data() + i * 4, &v, 4);
    }
  }
  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = kVersion;
  h.width = width;
  h.count = tokens.size();
  h.vocab_size = static_cast<uint32_t>(vocab_size);
  h.checksum = checksum64(body.data(), body.size());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  WEFT_CHECK(out, "[data] cannot create '", path, "': ", std::strerror(errno));
  out.write(reinterpret_cast<const char*>(&h), sizeof h);
  out.write(body.data(), static_cast<std::streamsize>(body.size()));
  out.close();
  WEFT_CHECK(out.good(), "[data] writing '", path, "' failed (disk full?)");
}

Shard::Shard(const std::string& path, int64_t max_vocab) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  WEFT_CHECK(fd >= 0, "[data] cannot open shard '", path, "': ", std::strerror(errno));
  struct stat st {};
  fstat(fd, &st);
  size_t bytes = static_cast<size_t>(st.st_size);
  if (bytes < kHeaderBytes) {
    ::close(fd);
    WEFT_FAIL("[data] shard '", path, "' is truncated: ", bytes, " bytes, smaller than the 64-byte header");
  }
  map_ = mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  WEFT_CHECK(map_ != MAP_FAILED, "[data] cannot mmap shard '", path, "': ", std::strerror(errno));
  map_bytes_ = bytes;
  Header h;
  std::memcpy(&h, map_, sizeof h);
  auto fail = [&](auto&&... msg) {
    munmap(map_, map_bytes_);
    map_ = nullptr;
    WEFT_FAIL("[data] shard '", path, "': ", msg...);
  };
  if (std::memcmp(h.magic, kMagic, 8) != 0) fail("bad magic (not a weft token shard)");
  if (h.version != kVersion) fail("unsupported format version ", h.version, " (this weft reads ", kVersion, ")");
  if (h.width != 2 && h.width != 4) fail("bad token width ", h.width);
  if (h.vocab_size == 0 || (h.width == 2 && h.vocab_size > 65536)) fail("bad vocabulary size ", h.vocab_size);
  if (bytes != kHeaderBytes + h.count * h.width)
    fail("truncated or padded: ", bytes, " bytes on disk, the header promises ", kHeaderBytes + h.count * h.width);
  width_ = static_cast<int>(h.width);
  count_ = static_cast<int64_t>(h.count);
  vocab_ = h.vocab_size;
  tokens_ = static_cast<const char*>(map_) + kHeaderBytes;
  if (checksum64(tokens_, h.count * h.width) != h.checksum) fail("checksum mismatch (corrupt token data)");
  if (max_vocab > 0 && vocab_ > max_vocab) fail("vocabulary of ", vocab_, " exceeds the model's ", max_vocab);
  for (int64_t i = 0; i < count_; ++i) {
    int32_t t = at(i);
    if (t >= vocab_) fail("token ", t, " at position ", i, " is >= the vocabulary size ", vocab_);
  }
}

Shard::~Shard() {
  if (map_) munmap(map_, map_bytes_);
}

Shard::Shard(Shard&& o) noexcept
    : path_(std::move(o.path_)), map_(o.map_), map_bytes_(o.map_bytes_), tokens_(o.tokens_), count_(o.count_),
      vocab_(o.vocab_), width_(o.width_) {
  o.map_ = nullptr;
}

void Shard::copy(int64_t begin, int64_t n, int32_t* out) const {
  WEFT_CHECK(begin >= 0 && begin + n <= count_, "[data] shard '", path_, "': range [", begin, ", ", begin + n,
             ") outside ", count_, " tokens");
  for (int64_t i = 0; i < n; ++i) out[i] = at(begin + i);
}

}  // namespace weft::data
