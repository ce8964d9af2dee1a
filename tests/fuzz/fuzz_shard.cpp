// Fuzzes the token-shard reader (data/shard.h) through a file, as `weft train --data` opens it: any bytes
// must either be rejected with a weft::Error naming the file or open as a shard whose every token can be
// read (at, copy) and is below the shard's vocabulary. The first input byte picks a mode: odd = the bytes
// as they are (exercises the magic/size/checksum gates), even = the checksums of the header and of the
// tokens are recomputed first, so mutations reach the semantic checks behind them (width, vocabulary,
// end-of-text, count against the file size, ids against the vocabulary).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "data/shard.h"
#include "runtime/check.h"
#include "runtime/checksum.h"
#include "tests/fuzz/fuzz_files.h"

namespace {

constexpr size_t kTokenChecksumAt = 40, kHeaderChecksumAt = 56;

// Recomputes the token checksum (over the tokens the header's count and width promise, when the file holds
// them) and then the header checksum, both as ShardWriter writes them.
void fix_checksums(std::string& bytes) {
  if (bytes.size() < weft::data::kShardHeaderBytes) return;
  uint32_t width = 0;
  uint64_t count = 0;
  std::memcpy(&width, bytes.data() + 12, 4);
  std::memcpy(&count, bytes.data() + 16, 8);
  const uint64_t body = bytes.size() - weft::data::kShardHeaderBytes;
  if ((width == 2 || width == 4) && count <= body / width) {
    const uint64_t sum = weft::tok64(bytes.data() + weft::data::kShardHeaderBytes, count * width);
    std::memcpy(bytes.data() + kTokenChecksumAt, &sum, 8);
  }
  const uint64_t header = weft::tok64(bytes.data(), kHeaderChecksumAt);
  std::memcpy(bytes.data() + kHeaderChecksumAt, &header, 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) fix_checksums(bytes);
  const std::string path = weft::fuzz::scratch_dir("shard") + "/train.bin";
  weft::fuzz::write_file(path, bytes);
  try {
    weft::data::Shard shard(path, data[0] % 4 < 2 ? 0 : 300);  // sometimes a model vocabulary to check against
    if (shard.size() < 0 || (shard.width() != 2 && shard.width() != 4)) std::abort();
    if (shard.eot() < -1 || shard.eot() >= shard.vocab_size()) std::abort();
    std::vector<int32_t> all(static_cast<size_t>(shard.size()));
    shard.copy(0, shard.size(), all.data());
    for (int64_t i = 0; i < shard.size(); ++i)
      if (all[i] < 0 || all[i] >= shard.vocab_size() || all[i] != shard.at(i)) std::abort();
    try {
      shard.copy(shard.size() - 1, 2, all.data());  // one past the end: must be refused
      std::abort();
    } catch (const weft::Error&) {
    }
  } catch (const weft::Error&) {
  }
  return 0;
}
