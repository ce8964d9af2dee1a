// Manifest writing and verification.
#include "runtime/checkpoint/manifest.h"

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "runtime/check.h"
#include "runtime/checkpoint/h5.h"
#include "runtime/checkpoint/reader.h"
#include "runtime/checksum.h"

namespace weft::ckpt {

namespace fs = std::filesystem;

namespace {

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  WEFT_CHECK(in, "[checkpoint] cannot read '", path, "'");
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

}  // namespace

FileDigest digest_file(const std::string& dir, const std::string& file) {
  const std::string path = dir + "/" + file;
  FileDigest d;
  d.file = file;
  {
    H5File f = H5File::open_read(path);
    for (const std::string& name : f.dataset_names()) {
      DatasetDigest ds;
      ds.name = name;
      ds.offset = f.data_offset(name);
      ds.bytes = f.shape_of(name).numel() * static_cast<int64_t>(dtype_size(f.dtype_of(name)));
      d.datasets.push_back(ds);
    }
  }
  std::vector<char> raw = read_all(path);
  d.bytes = static_cast<int64_t>(raw.size());
  d.checksum = checksum64(raw.data(), raw.size());
  for (auto& ds : d.datasets) {
    WEFT_CHECK(ds.offset >= 0 && ds.offset + ds.bytes <= d.bytes, "[checkpoint] ", path, ": dataset '", ds.name,
               "' lies outside the file");
    ds.checksum = checksum64(raw.data() + ds.offset, static_cast<size_t>(ds.bytes));
  }
  return d;
}

void write_manifest(const std::string& dir, int64_t step, const std::vector<FileDigest>& files) {
  std::ostringstream os;
  os << "weft-checkpoint-manifest 1\nstep " << step << "\n";
  for (const auto& f : files) {
    os << "file " << f.file << " " << f.bytes << " " << hex(f.checksum) << "\n";
    for (const auto& d : f.datasets)
      os << "dataset " << f.file << " " << d.name << " " << d.offset << " " << d.bytes << " " << hex(d.checksum) << "\n";
  }
  os << "end\n";
  const std::string path = dir + "/manifest.txt";
  std::ofstream out(path, std::ios::trunc);
  out << os.str();
  out.close();
  WEFT_CHECK(out.good(), "[checkpoint] writing '", path, "' failed (disk full?)");
}

namespace {

// One manifest line's fields, each checked: a truncated or edited line is an error naming the manifest and the
// line, never a bare conversion failure.
struct ManifestLine {
  const std::string& path;  // the manifest, for messages
  const std::string& line;
  std::istringstream in;
  ManifestLine(const std::string& p, const std::string& l) : path(p), line(l), in(l) {}
  [[noreturn]] void malformed(const char* what) const {
    WEFT_FAIL("[checkpoint] ", path, ": malformed line '", line, "' (", what, "; a damaged or hand-edited manifest)");
  }
  std::string word(const char* what) {
    std::string w;
    if (!(in >> w)) malformed(what);
    return w;
  }
  int64_t count(const char* what) {
    const std::string w = word(what);
    int64_t v = 0;
    size_t used = 0;
    try {
      v = std::stoll(w, &used);
    } catch (const std::exception&) {
      malformed(what);
    }
    if (used != w.size() || v < 0) malformed(what);
    return v;
  }
  uint64_t checksum() {
    const std::string w = word("checksum");
    if (w.empty() || w.size() > 16 || w.find_first_not_of("0123456789abcdef") != std::string::npos)
      malformed("checksum");
    return std::stoull(w, nullptr, 16);
  }
  void end() {
    std::string extra;
    if (in >> extra) malformed("trailing fields");
  }
};

}  // namespace

void verify_checkpoint(const std::string& dir) {
  const std::string path = dir + "/manifest.txt";
  std::ifstream in(path);
  WEFT_CHECK(in, "[checkpoint] '", dir, "' has no manifest.txt (an incomplete save, or not a weft checkpoint)");
  std::string line;
  std::getline(in, line);
  WEFT_CHECK(line == "weft-checkpoint-manifest 1", "[checkpoint] ", path, ": unknown manifest format '", line, "'");
  std::map<std::string, FileDigest> files;
  bool ended = false;
  while (std::getline(in, line)) {
    ManifestLine ml(path, line);
    const std::string kind = ml.word("empty line");
    if (kind == "end") {
      ml.end();
      ended = true;
      break;
    }
    if (kind == "step") {
      ml.count("step");
      ml.end();
    } else if (kind == "file") {
      FileDigest f;
      f.file = ml.word("file name");
      f.bytes = ml.count("file size");
      f.checksum = ml.checksum();
      ml.end();
      WEFT_CHECK(f.file.find('/') == std::string::npos && f.file != "." && f.file != "..", "[checkpoint] ", path,
                 ": file name '", f.file, "' is not a file of the checkpoint folder");
      files[f.file] = f;
    } else if (kind == "dataset") {
      const std::string file = ml.word("file name");
      DatasetDigest d;
      d.name = ml.word("dataset name");
      d.offset = ml.count("dataset offset");
      d.bytes = ml.count("dataset size");
      d.checksum = ml.checksum();
      ml.end();
      WEFT_CHECK(files.count(file), "[checkpoint] ", path, ": dataset of unlisted file '", file, "'");
      FileDigest& f = files[file];
      WEFT_CHECK(d.offset <= f.bytes && d.bytes <= f.bytes - d.offset, "[checkpoint] ", path, ": dataset '", d.name,
                 "' lies outside its file '", file, "' (", f.bytes, " bytes)");
      f.datasets.push_back(d);
    } else {
      ml.malformed("unknown record");
    }
  }
  WEFT_CHECK(ended, "[checkpoint] ", path, " is truncated (no 'end' line): the save did not complete");
  WEFT_CHECK(files.count(kMainFile), "[checkpoint] ", path, " does not list the main file ", kMainFile);
  for (const auto& [name, f] : files) {
    const std::string fp = dir + "/" + name;
    WEFT_CHECK(fs::exists(fp), "[checkpoint] the manifest lists '", fp, "', which does not exist");
    std::vector<char> raw = read_all(fp);
    WEFT_CHECK(static_cast<int64_t>(raw.size()) == f.bytes, "[checkpoint] '", fp, "' is truncated or padded: ",
               raw.size(), " bytes, the manifest says ", f.bytes);
    if (checksum64(raw.data(), raw.size()) == f.checksum) continue;
    for (const auto& d : f.datasets)
      WEFT_CHECK(checksum64(raw.data() + d.offset, static_cast<size_t>(d.bytes)) == d.checksum, "[checkpoint] '", fp,
                 "': checksum mismatch in dataset '", d.name, "' (the file is corrupt)");
    WEFT_FAIL("[checkpoint] '", fp, "': checksum mismatch in the HDF5 metadata (the file is corrupt)");
  }
}

}  // namespace weft::ckpt
