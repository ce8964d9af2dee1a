// Fuzzes the JSONL reader: the input is written as a user's JSONL file and read line by line with
// for_each_jsonl_line (launch/jsonl_lines.h, weft eval --task / weft embed --pairs), each line parsed for a
// string, a number and a string-array field (data/jsonl.h, as weft prepare --input X.jsonl and the zero-shot
// tasks read them). The parsers report problems as strings and must never throw or read out of bounds, and
// escaping round-trips: any bytes written with json_escape_string read back identical.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/jsonl.h"
#include "launch/jsonl_lines.h"
#include "tests/fuzz/fuzz_files.h"

namespace {

void parse_line(const std::string& line) {
  std::string text;
  double number = 0;
  std::vector<std::string> choices;
  const std::string e1 = weft::data::json_string_field(line, "text", text);
  const std::string e2 = weft::data::json_number_field(line, "label", number);
  const std::string e3 = weft::data::json_string_array_field(line, "choices", choices);
  (void)e1, (void)e2, (void)e3;
  // The line itself as a string value: escaping then parsing gives the bytes back.
  std::string back;
  if (!weft::data::json_string_field("{\"text\": \"" + weft::data::json_escape_string(line) + "\"}", "text", back)
           .empty() ||
      back != line)
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = weft::fuzz::scratch_dir("jsonl") + "/task.jsonl";
  weft::fuzz::write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));
  int64_t lines = 0;
  weft::launch::for_each_jsonl_line(path, "--task", [&](const std::string& line, const std::string& where,
                                                        int64_t lineno) {
    if (where.empty() || lineno <= lines) std::abort();  // line numbers increase
    lines = lineno;
    parse_line(line);
  });
  return 0;
}
