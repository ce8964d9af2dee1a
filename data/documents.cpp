// Streaming document reader for .txt, .jsonl and folders of them.
// Separator mode is decided per .txt file by a cheap pre-scan for a <|endoftext|> line.
#include "data/documents.h"

#include <algorithm>
#include <filesystem>

#include "data/jsonl.h"
#include "runtime/check.h"

namespace weft::data {

namespace fs = std::filesystem;

namespace {

const std::string kSeparator = "<|endoftext|>";

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

std::string extension(const std::string& path) { return fs::path(path).extension().string(); }

// Whether a .txt file has a separator line (a cheap streaming pre-scan).
bool has_separator_line(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == kSeparator) return true;
  }
  return false;
}

}  // namespace

DocumentReader::DocumentReader(const std::string& path, std::vector<std::string> text_fields)
    : fields_(std::move(text_fields)) {
  WEFT_CHECK(!fields_.empty(), "[prepare] no --text-field given");
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::directory_iterator(path)) {
      const std::string ext = extension(e.path().string());
      if (e.is_regular_file() && (ext == ".txt" || ext == ".jsonl")) files_.push_back(e.path().string());
    }
    std::sort(files_.begin(), files_.end());
    WEFT_CHECK(!files_.empty(), "[prepare] folder '", path, "' holds no .txt or .jsonl files");
    whole_file_ = true;
  } else {
    WEFT_CHECK(fs::is_regular_file(path, ec), "[prepare] cannot open input '", path, "': no such file");
    const std::string ext = extension(path);
    WEFT_CHECK(ext == ".txt" || ext == ".jsonl", "[prepare] input '", path,
               "' must be a .txt or .jsonl file (or a folder of them), got '", ext, "'");
    files_.push_back(path);
  }
}

bool DocumentReader::open_next_file() {
  if (file_ >= files_.size()) return false;
  const std::string& path = files_[file_++];
  in_.close();
  in_.clear();
  in_.open(path, std::ios::binary);
  WEFT_CHECK(in_, "[prepare] cannot open input '", path, "'");
  jsonl_ = extension(path) == ".jsonl";
  separated_ = !jsonl_ && has_separator_line(path);
  line_ = 0;
  open_ = true;
  return true;
}

bool DocumentReader::read_line(std::string& line) {
  if (!std::getline(in_, line)) return false;
  if (++line_ == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

bool DocumentReader::next(std::string& doc) {
  std::string line;
  while (true) {
    if (!open_ && !open_next_file()) return false;
    const std::string& path = files_[file_ - 1];
    if (jsonl_) {
      while (read_line(line)) {
        if (is_blank(line)) continue;
        doc.clear();
        for (size_t i = 0; i < fields_.size(); ++i) {
          std::string part;
          const std::string err = json_string_field(line, fields_[i], part);
          WEFT_CHECK(err.empty(), "[prepare] ", path, ":", line_, ": ", err,
                     err.rfind("missing field", 0) == 0 ? " (choose the fields with --text-field)" : "");
          if (i > 0 && !doc.empty() && !part.empty()) doc += '\n';
          doc += part;
        }
        if (doc.empty()) {
          ++skipped_;
          continue;
        }
        ++documents_;
        return true;
      }
    } else {
      // Separator mode ends a document at <|endoftext|>, paragraph mode at a blank line, a whole-file
      // document (a folder's .txt without separators) only at the end of the file.
      doc.clear();
      bool any = false;
      while (read_line(line)) {
        const bool boundary = separated_ ? line == kSeparator : !whole_file_ && is_blank(line);
        if (!boundary) {
          if (any) doc += '\n';
          doc += line;
          any = true;
          continue;
        }
        if (any && !is_blank(doc)) {
          ++documents_;
          return true;
        }
        skipped_ += any;  // a whitespace-only document between separators
        doc.clear();
        any = false;
      }
      open_ = false;
      if (any && !is_blank(doc)) {  // the last document of the file
        ++documents_;
        return true;
      }
      skipped_ += any;
      continue;
    }
    open_ = false;
  }
}

bool has_jsonl_input(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) || extension(path) == ".jsonl";
}

std::vector<std::string> read_documents(const std::string& path, std::vector<std::string> text_fields) {
  DocumentReader r(path, std::move(text_fields));
  std::vector<std::string> docs;
  std::string d;
  while (r.next(d)) docs.push_back(d);
  return docs;
}

}  // namespace weft::data
