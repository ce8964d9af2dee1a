// Checkpoint reading under AddressSanitizer: this binary compiles the checkpoint I/O sources itself with
// -fsanitize=address (see tests/CMakeLists.txt), writes a checkpoint-like HDF5 file and its manifest,
// then flips random bytes many times. Every corrupted copy must be rejected by the manifest check with
// a weft::Error; copies that slip past the check (none should) are also read through HDF5, so any
// out-of-bounds access in our reader would be reported by ASan.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "runtime/checkpoint/h5.h"
#include "runtime/checkpoint/manifest.h"

namespace {

namespace fs = std::filesystem;

TEST(CheckpointFuzzAsan, RandomFlipsAreRejectedWithoutMemoryErrors) {
  const std::string dir = (fs::temp_directory_path() / ("weft_fuzz_" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  {
    weft::ckpt::H5File f = weft::ckpt::H5File::create(dir + "/rank_00000.h5");
    std::vector<float> w(37 * 11), b(11);
    for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * static_cast<float>(i);
    f.write("params/w", weft::DType::f32, {37, 11}, w.data());
    f.write("params/b", weft::DType::f32, {11}, b.data());
    f.set_attr("step", int64_t(3));
    f.set_attr("config", std::string("[model]\nd-model = 11\n"));
    f.close();
  }
  weft::ckpt::write_manifest(dir, 3, {weft::ckpt::digest_file(dir, "rank_00000.h5")});
  weft::ckpt::verify_checkpoint(dir);
  std::vector<char> original;
  {
    std::ifstream in(dir + "/rank_00000.h5", std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::mt19937_64 rng(2026);
  int rejected = 0, trials = 500;
  for (int t = 0; t < trials; ++t) {
    std::vector<char> bytes = original;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
    if (rng() % 8 == 0) bytes.resize(rng() % bytes.size());  // sometimes truncated too
    {
      std::ofstream out(dir + "/rank_00000.h5", std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    try {
      weft::ckpt::verify_checkpoint(dir);
      weft::ckpt::H5File f = weft::ckpt::H5File::open_read(dir + "/rank_00000.h5");
      std::vector<float> w(37 * 11);
      f.read("params/w", weft::DType::f32, {37, 11}, w.data());
    } catch (const weft::Error&) {
      ++rejected;
    }
  }
  EXPECT_EQ(rejected, trials);
  fs::remove_all(dir);
}

}  // namespace
