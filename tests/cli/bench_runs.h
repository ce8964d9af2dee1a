// Shared by tests/cli/test_bench.cpp and test_bench_mpi.cpp: a tiny MoEUT's `weft bench` flags, its
// MoeutConfig, and the fields of the bench's --json line.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "models/moeut/moeut.h"
#include "tests/harness/process.h"

namespace weft::test {

inline std::string weft_binary() { return WEFT_BINARY; }

// d 16, L 4 in G 2, H 2 x dh 8, N_A 3 / K_A 2, N_E 8 of es 8 / K 2; T 32, V 64.
inline models::MoeutConfig tiny_moeut() {
  models::MoeutConfig c;
  c.vocab_size = 64;
  c.seq_len = 32;
  c.d_model = 16;
  c.n_layers = 4;
  c.n_groups = 2;
  c.n_heads = 2;
  c.head_dim = 8;
  c.n_experts = 8;
  c.expert_size = 8;
  c.top_k = 2;
  c.att_experts = 3;
  c.att_top_k = 2;
  return c;
}

inline std::string tiny_moeut_bench_args() {
  const models::MoeutConfig c = tiny_moeut();
  auto n = [](int64_t v) { return std::to_string(v); };
  return " bench --model moeut --vocab-size " + n(c.vocab_size) + " --seq-len " + n(c.seq_len) + " --d-model " +
         n(c.d_model) + " --n-layers " + n(c.n_layers) + " --n-groups " + n(c.n_groups) + " --n-heads " +
         n(c.n_heads) + " --head-dim " + n(c.head_dim) + " --n-experts " + n(c.n_experts) + " --expert-size " +
         n(c.expert_size) + " --top-k " + n(c.top_k) + " --att-experts " + n(c.att_experts) + " --att-top-k " +
         n(c.att_top_k) + " --batch-size 2 --steps 2 --warmup-steps 1 --threads 1 ";
}

// A fresh path for a --json file (removed first).
inline std::string bench_json_path(const std::string& tag) {
  const std::string p =
      (std::filesystem::temp_directory_path() / ("weft_bench_" + tag + "_" + std::to_string(::getpid()) + ".json"))
          .string();
  std::filesystem::remove(p);
  return p;
}

// The fields of the last line of a --json file: key -> value text (strings keep their quotes).
inline std::map<std::string, std::string> last_json_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  std::map<std::string, std::string> fields;  // a flat object of numbers and strings
  size_t p = 0;
  while ((p = last.find('"', p)) != std::string::npos) {
    const size_t end = last.find('"', p + 1);
    if (end == std::string::npos) break;
    const std::string key = last.substr(p + 1, end - p - 1);
    size_t v = last.find(':', end);
    if (v == std::string::npos) break;
    v = last.find_first_not_of(' ', v + 1);
    const size_t stop = last[v] == '"' ? last.find('"', v + 1) + 1 : last.find_first_of(",}", v);
    fields[key] = last.substr(v, stop - v);
    p = stop;
  }
  return fields;
}

}  // namespace weft::test
