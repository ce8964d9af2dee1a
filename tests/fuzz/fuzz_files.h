// Shared by the libFuzzer targets: a scratch folder per fuzzing process (under $TMPDIR, removed at exit)
// where a target writes its input as files, so the code under test reads them exactly as the product does,
// and the rule every target follows: a rejection must be a weft::Error (which the CLI turns into a message
// naming the file and exit code 2); any other exception escaping is a finding (libFuzzer reports it).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace weft::fuzz {

// The folder, created on first use: $TMPDIR/weft_fuzz_<target>_<pid>, removed when the process exits.
struct ScratchDir {
  std::string path;
  explicit ScratchDir(const char* target) {
    const char* tmp = std::getenv("TMPDIR");
    path = (std::filesystem::path(tmp && *tmp ? tmp : "/tmp") /
            ("weft_fuzz_" + std::string(target) + "_" + std::to_string(::getpid())))
               .string();
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline const std::string& scratch_dir(const char* target) {
  static const ScratchDir dir(target);
  return dir.path;
}

inline void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Splits a fuzz input at the first occurrence of `sep` (the part after it is empty when absent).
inline std::pair<std::string_view, std::string_view> split_at(std::string_view in, std::string_view sep) {
  const size_t at = in.find(sep);
  if (at == std::string_view::npos) return {in, {}};
  return {in.substr(0, at), in.substr(at + sep.size())};
}

}  // namespace weft::fuzz
