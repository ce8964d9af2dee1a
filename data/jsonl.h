// Minimal JSON for data files: escaping strings for JSONL output, and reading one top-level string
// field of a JSON object line (full JSON syntax is parsed and validated; escapes incl. \uXXXX and
// surrogate pairs are decoded to UTF-8).
#pragma once

#include <string>
#include <vector>

namespace weft::data {

std::string json_escape_string(const std::string& s);

// Parses `line` as a JSON object and stores the string value of `key` in out. Returns "" on success,
// else a description of the problem ("missing field 'text'", "invalid escape at column 17", ...).
std::string json_string_field(const std::string& line, const std::string& key, std::string& out);
// The same for a number field; `null` (how weft writes NaN and infinities) reads as NaN.
std::string json_number_field(const std::string& line, const std::string& key, double& out);
// The same for an array of strings ("field 'choices' is not an array of strings" otherwise).
std::string json_string_array_field(const std::string& line, const std::string& key, std::vector<std::string>& out);

}  // namespace weft::data
