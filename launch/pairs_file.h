// The query/document pairs of a JSONL file (`weft embed --pairs`, `weft train --objective infonce --pairs`):
// one JSON object per non-blank line with a query and a document string field (summary/story by default, the
// built-in corpus's; {"query", "document"} or others through --query-field / --document-field) and an optional
// "split": "train" | "val" (also "validation", "test"). A line without "split" is train unless --val-fraction f
// routes it to val (the rule of `weft prepare`: pair i validates when floor((i + 1) f) > floor(i f)).
// Errors are UsageErrors naming the file, the line and the flag of the missing field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::launch {

struct PairText {
  std::string query, document;
  int32_t split = 0;  // 0 train, 1 val
};

// flag: the option that named the file ("--pairs"), for the message of a missing or empty file.
std::vector<PairText> read_pairs(const std::string& path, const std::string& query_field,
                                 const std::string& document_field, double val_fraction,
                                 const std::string& flag = "--pairs");

}  // namespace weft::launch
