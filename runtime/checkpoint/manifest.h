// Checkpoint manifest: written last into a checkpoint folder, it lists every file with its size and
// checksum and every dataset's byte range and checksum inside its file. Loading verifies a file against
// the manifest from its raw bytes BEFORE HDF5 opens it (HDF5 can hang or crash on corrupt files), and on
// a mismatch names the dataset whose bytes changed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::ckpt {

struct DatasetDigest {
  std::string name;
  int64_t offset = 0, bytes = 0;
  uint64_t checksum = 0;
};

struct FileDigest {
  std::string file;  // relative to the checkpoint folder
  int64_t bytes = 0;
  uint64_t checksum = 0;
  std::vector<DatasetDigest> datasets;
};

// Digest of a closed HDF5 file (dataset ranges found through HDF5, checksums over the raw bytes).
FileDigest digest_file(const std::string& dir, const std::string& file);
void write_manifest(const std::string& dir, int64_t step, const std::vector<FileDigest>& files);
// Throws weft::Error naming the folder, file or dataset: missing manifest, missing file, truncated
// file, checksum mismatch.
void verify_checkpoint(const std::string& dir);

}  // namespace weft::ckpt
