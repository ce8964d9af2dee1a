// Fuzzes checkpoint loading (runtime/checkpoint/manifest.h, reader.h) through the verification the product
// runs before HDF5 parses anything: the input is a checkpoint folder packed as MANIFEST '\0' MAIN_FILE
// (manifest.txt and rank_00000.h5; no '\0': only a manifest), written into a scratch folder and opened with
// CheckpointReader, which verifies every file against the manifest first. Any input must either be rejected
// with a weft::Error (naming the folder, file or dataset) or open, in which case every dataset it lists
// reads back through the reader. Fuzzing the manifest also fuzzes its checks of sizes, offsets and names
// against the file on disk (an offset outside the file must be refused, not read).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/check.h"
#include "runtime/checkpoint/reader.h"
#include "tests/fuzz/fuzz_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = weft::fuzz::scratch_dir("checkpoint") + "/step_00000001";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  weft::fuzz::write_file(dir + "/manifest.txt", input.substr(0, nul));
  if (nul != std::string_view::npos) weft::fuzz::write_file(dir + "/" + weft::ckpt::kMainFile, input.substr(nul + 1));
  try {
    weft::ckpt::CheckpointReader reader(dir);
    for (const std::string& name : reader.dataset_names()) {
      const weft::Shape shape = reader.shape_of(name);
      if (shape.numel() > (int64_t(1) << 20)) continue;  // a checkpoint verified by checksum: real sizes
      std::vector<char> buf(static_cast<size_t>(shape.numel()) * weft::dtype_size(reader.dtype_of(name)) + 1);
      reader.read(name, reader.dtype_of(name), shape, buf.data());
    }
  } catch (const weft::Error&) {
  }
  return 0;
}
