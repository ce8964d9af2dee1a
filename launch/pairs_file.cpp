// read_pairs (launch/pairs_file.h).
#include "launch/pairs_file.h"

#include <tuple>

#include "data/jsonl.h"
#include "data/prepare.h"
#include "launch/jsonl_lines.h"

namespace weft::launch {

std::vector<PairText> read_pairs(const std::string& path, const std::string& query_field,
                                 const std::string& document_field, double val_fraction, const std::string& flag) {
  std::vector<PairText> pairs;
  for_each_jsonl_line(path, flag, [&](const std::string& line, const std::string& where, int64_t) {
    PairText p;
    for (const auto& [field, field_flag, out] : {std::tuple{query_field, "--query-field", &p.query},
                                                 std::tuple{document_field, "--document-field", &p.document}}) {
      const std::string err = data::json_string_field(line, field, *out);
      if (!err.empty()) throw UsageError(where + err + " (" + field_flag + " " + field + ")");
    }
    std::string split;
    const std::string err = data::json_string_field(line, "split", split);
    if (err.rfind("missing field", 0) == 0) {
      p.split = data::is_validation_document(static_cast<int64_t>(pairs.size()), val_fraction) ? 1 : 0;
    } else if (!err.empty()) {
      throw UsageError(where + err);
    } else if (split == "train") {
      p.split = 0;
    } else if (split == "val" || split == "validation" || split == "test") {
      p.split = 1;
    } else {
      throw UsageError(where + "split '" + split + "' is neither train nor val");
    }
    pairs.push_back(std::move(p));
  });
  if (pairs.empty()) throw UsageError(flag + ": '" + path + "' holds no pairs (empty file)");
  return pairs;
}

}  // namespace weft::launch
