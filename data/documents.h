// Streaming reader of the documents of a text input for `weft prepare --input`: .jsonl ("text" field
// or the fields --text-field names),
// .txt (<|endoftext|> separators or paragraphs) and folders of them. Rules below and in
// docs/data-format.md.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace weft::data {

//  - FILE.jsonl: one JSON object per line with a string field "text" (blank lines skipped); with other
//    text fields given, those fields' strings, in the order given, joined with "\n";
//  - FILE.txt: documents separated by lines holding only <|endoftext|>; a file without such a line is
//    split at blank lines instead (one document per paragraph);
//  - a folder: its *.txt and *.jsonl files in name order; there a .txt file without <|endoftext|>
//    lines is ONE document (a book, an article), not a list of paragraphs.
// Text is kept byte for byte except: a UTF-8 byte-order mark at the start of a file and the \r of
// CRLF line ends are dropped; the lines of a document are joined with \n. Empty documents are skipped.
class DocumentReader {
 public:
  // Throws naming the path when it cannot be read. text_fields: the JSONL fields a document is made of.
  explicit DocumentReader(const std::string& path, std::vector<std::string> text_fields = {"text"});
  // The next document; false at the end. Malformed JSONL throws "file:line: problem".
  bool next(std::string& doc);
  int64_t documents() const { return documents_; }    // returned so far
  int64_t skipped_empty() const { return skipped_; }  // empty documents dropped
  const std::vector<std::string>& files() const { return files_; }

 private:
  bool open_next_file();
  bool read_line(std::string& line);
  std::vector<std::string> files_, fields_;
  size_t file_ = 0;
  std::ifstream in_;
  std::string current_;
  int64_t line_ = 0, documents_ = 0, skipped_ = 0;
  bool jsonl_ = false, separated_ = false, whole_file_ = false, open_ = false;
};

// All documents of `path` (small inputs, tests).
std::vector<std::string> read_documents(const std::string& path, std::vector<std::string> text_fields = {"text"});
// Whether `path` is read through DocumentReader's JSONL rules: a .jsonl file, or a folder (which may hold some).
bool has_jsonl_input(const std::string& path);

}  // namespace weft::data
