// Loss-mask shards: discovery, validation against the token shards, application to targets.
#include "data/loss_mask.h"

#include "data/loader.h"
#include "data/split.h"
#include "runtime/check.h"

namespace weft::data {

std::string mask_split_name(const std::string& split) { return split + "_mask"; }

std::vector<std::shared_ptr<const Shard>> open_loss_mask(const std::string& dir, const std::string& split,
                                                         const std::vector<std::shared_ptr<const Shard>>& tokens) {
  const std::vector<std::string> files = split_files(dir, mask_split_name(split));
  std::vector<std::shared_ptr<const Shard>> masks;
  if (files.empty()) return masks;
  WEFT_CHECK(files.size() == tokens.size(), "[data] ", dir, ": split '", split, "' has ", tokens.size(),
             " token shard(s) but ", files.size(), " loss-mask shard(s) (", files.front(), ")");
  for (size_t i = 0; i < files.size(); ++i) {
    auto m = std::make_shared<const Shard>(files[i]);
    WEFT_CHECK(m->vocab_size() == 2, "[data] loss mask '", files[i], "' has vocabulary ", m->vocab_size(),
               " (a mask holds 0 and 1)");
    WEFT_CHECK(m->size() == tokens[i]->size(), "[data] loss mask '", files[i], "' holds ", m->size(),
               " values, its token shard '", tokens[i]->path(), "' ", tokens[i]->size(), " tokens");
    masks.push_back(std::move(m));
  }
  return masks;
}

void apply_loss_mask(const Shard& mask, int64_t begin, int64_t n, int32_t* targets) {
  for (int64_t i = 0; i < n; ++i)
    if (mask.at(begin + i) == 0) targets[i] = kIgnoreIndex;
}

}  // namespace weft::data
