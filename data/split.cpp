// Split writer (document-aligned shard rolling) and split discovery.
// Shards are "<name>.part" until SplitWriter::close renames them all.
#include "data/split.h"

#include <cstdio>
#include <filesystem>
#include <map>

#include "runtime/check.h"

namespace weft::data {

namespace fs = std::filesystem;

namespace {

// "<split>_NNNNNN.bin" -> NNNNNN, or -1 when `name` is not a numbered shard of `split`.
int64_t shard_number(const std::string& name, const std::string& split) {
  const std::string prefix = split + "_", suffix = ".bin";
  if (name.size() != prefix.size() + 6 + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  int64_t v = 0;
  for (size_t i = prefix.size(); i < prefix.size() + 6; ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

}  // namespace

SplitWriter::SplitWriter(std::string dir, std::string split, int64_t vocab_size, int32_t eot, int64_t shard_tokens)
    : dir_(std::move(dir)), split_(std::move(split)), vocab_(vocab_size), shard_tokens_(shard_tokens), eot_(eot) {
  WEFT_CHECK(eot >= 0 && eot < vocab_size, "[data] end-of-text id ", eot, " outside the vocabulary of ", vocab_size);
  WEFT_CHECK(shard_tokens >= 0, "[data] shard size must be >= 0 tokens, got ", shard_tokens);
  fs::create_directories(dir_);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_)) {  // stale shards of this split from an earlier run
    const std::string name = e.path().filename().string();
    std::string base = name;  // also the unfinished files of an interrupted run
    for (const std::string suffix : {".tmp", ".part"})
      if (base.size() > suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0)
        base.resize(base.size() - suffix.size());
    if (base == split_ + ".bin" || shard_number(base, split_) >= 0) fs::remove(e.path(), ec);
  }
}

SplitWriter::~SplitWriter() {
  if (closed_) return;
  current_.reset();  // an unclosed ShardWriter removes its temporary file
  std::error_code ec;
  for (size_t i = 0; i < written_.size(); ++i) fs::remove(shard_name(i) + ".part", ec);
}

std::string SplitWriter::shard_name(size_t i) const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "_%06zu.bin", i);
  return (fs::path(dir_) / (split_ + buf)).string();
}

void SplitWriter::add_document(const int32_t* ids, size_t n) {
  WEFT_CHECK(!closed_, "[data] ", dir_, "/", split_, ": document added after close");
  if (current_ && shard_tokens_ > 0 && current_->count() >= shard_tokens_) {
    current_->close();
    current_.reset();
  }
  if (!current_) {
    WEFT_CHECK(written_.size() < 1000000, "[data] ", dir_, "/", split_, ": more than 1,000,000 shards");
    written_.push_back(shard_name(written_.size()));
    current_ = std::make_unique<ShardWriter>(written_.back() + ".part", vocab_, eot_);
  }
  current_->append(ids, n);
  current_->append(&eot_, 1);
  tokens_ += static_cast<int64_t>(n) + 1;
  ++documents_;
}

std::vector<std::string> SplitWriter::close() {
  WEFT_CHECK(!closed_, "[data] ", dir_, "/", split_, ": closed twice");
  if (current_) current_->close();
  current_.reset();
  // Complete shards carry ".part" until the whole split is written, so an interrupted run never leaves a
  // split that looks complete but lacks its last shards.
  if (written_.size() == 1) written_[0] = (fs::path(dir_) / (split_ + ".bin")).string();
  for (size_t i = 0; i < written_.size(); ++i) fs::rename(shard_name(i) + ".part", written_[i]);
  closed_ = true;
  return written_;
}

std::vector<std::string> split_files(const std::string& dir, const std::string& split) {
  const fs::path single = fs::path(dir) / (split + ".bin");
  std::map<int64_t, std::string> numbered;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    for (const auto& e : fs::directory_iterator(dir)) {
      int64_t k = shard_number(e.path().filename().string(), split);
      if (k >= 0) numbered[k] = e.path().string();
    }
  }
  const bool has_single = fs::exists(single, ec);
  if (numbered.empty()) return has_single ? std::vector<std::string>{single.string()} : std::vector<std::string>{};
  WEFT_CHECK(!has_single, "[data] ", dir, " holds both ", split, ".bin and numbered ", split,
             "_NNNNNN.bin shards: remove the stale ones (or re-run `weft prepare`)");
  std::vector<std::string> files;
  for (const auto& [k, path] : numbered) {
    WEFT_CHECK(k == static_cast<int64_t>(files.size()), "[data] ", dir, ": shard ", files.size(), " of split '", split,
               "' is missing (found ", path, ")");
    files.push_back(path);
  }
  return files;
}

std::vector<std::shared_ptr<const Shard>> open_split(const std::string& dir, const std::string& split,
                                                     int64_t max_vocab) {
  std::vector<std::string> files = split_files(dir, split);
  WEFT_CHECK(!files.empty(), "[data] ", dir, " has no '", split, "' split (", split, ".bin or ", split,
             "_000000.bin): is it a folder written by `weft prepare`?");
  std::vector<std::shared_ptr<const Shard>> shards;
  for (const auto& f : files) {
    shards.push_back(std::make_shared<const Shard>(f, max_vocab));
    WEFT_CHECK(shards.back()->vocab_size() == shards.front()->vocab_size(), "[data] shard '", f, "' has vocabulary ",
               shards.back()->vocab_size(), ", shard '", files.front(), "' has ", shards.front()->vocab_size());
  }
  return shards;
}

}  // namespace weft::data
