// The one reader of a user's JSONL file for the CLI (weft eval --task, weft embed --pairs): every non-blank
// line handed to `fn(line, where)` with `where` = "FILE:LINE: " for error messages; a missing or unreadable
// file is a UsageError naming `flag`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "launch/options.h"

namespace weft::launch {

template <class Fn>
void for_each_jsonl_line(const std::string& path, const std::string& flag, Fn&& fn) {
  if (!std::filesystem::is_regular_file(path)) throw UsageError(flag + ": '" + path + "' does not exist");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(flag + ": cannot read '" + path + "'");
  std::string line;
  for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    fn(line, path + ":" + std::to_string(lineno) + ": ", lineno);
  }
}

}  // namespace weft::launch
