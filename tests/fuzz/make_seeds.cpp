// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): small valid inputs in each
// target's packing, made with weft's own writers so they pass every check (checksums included) and the
// fuzzer starts from the accepted side. Usage: fuzz_make_seeds CORPUS_DIR (tests/fuzz/run does not need
// it; re-run it by hand when a format changes).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "data/shard.h"
#include "data/tokenizer.h"
#include "runtime/checkpoint/h5.h"
#include "runtime/checkpoint/manifest.h"
#include "tests/fuzz/fuzz_files.h"

namespace fs = std::filesystem;

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void shard_seeds(const std::string& out, const std::string& tmp) {
  struct Case {
    const char* name;
    std::vector<int32_t> tokens;
    int64_t vocab;
    int32_t eot;
  };
  const std::vector<Case> cases = {{"bytes", {104, 105, 256, 119, 101, 102, 116, 256}, 257, 256},
                                   {"wide", {1, 65999, 69999, 2, 0}, 70000, 0},
                                   {"empty", {}, 300, -1}};
  for (const Case& c : cases) {
    const std::string path = tmp + "/shard.bin";
    weft::data::write_shard(path, c.tokens, c.vocab, c.eot);
    const std::string bytes = read_bytes(path);
    weft::fuzz::write_file(out + "/" + c.name + "_fixup", std::string(1, '\0') + bytes);  // mode byte: even
    weft::fuzz::write_file(out + "/" + c.name + "_raw", std::string(1, '\1') + bytes);    // odd
  }
}

void checkpoint_seed(const std::string& out, const std::string& tmp) {
  const std::string dir = tmp + "/ckpt";
  fs::create_directories(dir);
  {
    weft::ckpt::H5File f = weft::ckpt::H5File::create(dir + "/rank_00000.h5");
    std::vector<float> w(4 * 3, 0.25f), b(3, -1.f);
    f.write("params/w", weft::DType::f32, {4, 3}, w.data());
    f.write("params/b", weft::DType::f32, {3}, b.data());
    f.set_attr("step", int64_t(1));
    f.set_attr("config", std::string("[model]\nd-model = 3\n"));
    f.close();
  }
  weft::ckpt::write_manifest(dir, 1, {weft::ckpt::digest_file(dir, "rank_00000.h5")});
  weft::ckpt::verify_checkpoint(dir);
  weft::fuzz::write_file(out + "/small", read_bytes(dir + "/manifest.txt") + std::string(1, '\0') +
                                             read_bytes(dir + "/rank_00000.h5"));
  weft::fuzz::write_file(out + "/manifest_only", read_bytes(dir + "/manifest.txt"));
}

void tokenizer_seeds(const std::string& out, const std::string& tmp) {
  weft::fuzz::write_file(out + "/byte", "byte\n");
  weft::fuzz::write_file(out + "/symbols", "# sorting task\nsymbols 4\n");
  const std::string text = tmp + "/text.txt";
  std::string lines;
  for (int i = 0; i < 200; ++i)
    lines += "the quick brown fox " + std::to_string(i) + " jumps over the lazy dog\n";
  weft::fuzz::write_file(text, lines);
  weft::data::SentencePieceOptions opt;
  opt.vocab_size = 320;
  opt.threads = 1;
  weft::data::train_sentencepiece(text, tmp + "/sp", opt);
  weft::fuzz::write_file(out + "/sentencepiece",
                         "sentencepiece tokenizer.model\n" + std::string(1, '\0') + read_bytes(tmp + "/sp.model"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::string corpus = argv[1], tmp = weft::fuzz::scratch_dir("seeds");
  for (const char* t : {"shard", "checkpoint", "tokenizer"}) fs::create_directories(corpus + "/" + t);
  shard_seeds(corpus + "/shard", tmp);
  checkpoint_seed(corpus + "/checkpoint", tmp);
  tokenizer_seeds(corpus + "/tokenizer", tmp);
  std::printf("seeds written under %s (jsonl and options seeds are hand-written text files)\n", corpus.c_str());
  return 0;
}
