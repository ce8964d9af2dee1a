// A split of a data folder ("train", "val"): one shard "<split>.bin", or, when the writer was asked for
// shards of at most N tokens and needed several, "<split>_000000.bin", "<split>_000001.bin", ... in
// order. SplitWriter appends documents (each followed by end-of-text) and rolls shards at document
// boundaries; shards are named "<name>.part" until the whole split is closed, so an interrupted run leaves
// no split that looks complete. open_split finds and validates the shards of a split.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/shard.h"

namespace weft::data {

class SplitWriter {
 public:
  // shard_tokens > 0: start a new shard before a document once the current one holds that many tokens.
  // Removes the split's shards from an earlier run first, so stale shards never mix with new ones.
  SplitWriter(std::string dir, std::string split, int64_t vocab_size, int32_t eot, int64_t shard_tokens = 0);
  ~SplitWriter();
  SplitWriter(const SplitWriter&) = delete;
  SplitWriter& operator=(const SplitWriter&) = delete;

  void add_document(const int32_t* ids, size_t n);  // the ids, then end-of-text
  void add_document(const std::vector<int32_t>& ids) { add_document(ids.data(), ids.size()); }
  std::vector<std::string> close();  // the shard files written, in order
  int64_t tokens() const { return tokens_; }
  int64_t documents() const { return documents_; }

 private:
  std::string shard_name(size_t i) const;
  std::string dir_, split_;
  int64_t vocab_, shard_tokens_, tokens_ = 0, documents_ = 0;
  int32_t eot_;
  std::unique_ptr<ShardWriter> current_;
  std::vector<std::string> written_;
  bool closed_ = false;
};

// The shard files of `split` in `dir`, in order; empty when the split does not exist. Throws when both
// forms exist or numbered shards have a gap.
std::vector<std::string> split_files(const std::string& dir, const std::string& split);

// Opens and validates every shard of a split (max_vocab as in Shard). Throws naming the folder when the
// split is missing.
std::vector<std::shared_ptr<const Shard>> open_split(const std::string& dir, const std::string& split,
                                                     int64_t max_vocab = 0);

}  // namespace weft::data
