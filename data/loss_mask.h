// Loss masks of a data folder: split "<split>_mask" (<split>_mask.bin, or numbered like the tokens), token
// shards of vocabulary 2 parallel to the split's token shards (same count, same sizes, checksummed by the
// shard format), one value per token: 1 where that token counts as a target, 0 where its target is
// replaced by kIgnoreIndex. `weft prepare --builtin sorting` writes them (only the answer tokens count);
// a folder without one counts every target. Details: docs/data-format.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/shard.h"

namespace weft::data {

// "<split>_mask": the mask split's name.
std::string mask_split_name(const std::string& split);

// The mask shards of `split` in `dir` checked against its token shards (one per token shard, equal sizes,
// vocabulary 2); empty when the folder has none. Errors name the mask file.
std::vector<std::shared_ptr<const Shard>> open_loss_mask(const std::string& dir, const std::string& split,
                                                         const std::vector<std::shared_ptr<const Shard>>& tokens);

// targets[i] = kIgnoreIndex where mask token begin + i is 0 (i in [0, n)).
void apply_loss_mask(const Shard& mask, int64_t begin, int64_t n, int32_t* targets);

}  // namespace weft::data
