// What a `weft train` run leaves behind, read back by the multi-rank tests (tests/cli/test_mpi.cpp,
// tests/cluster/test_multinode.cpp): the loss of every logged step from the run's metrics.jsonl, and the
// weights of a checkpoint of the tiny transformer those tests train (kTinyTransformerFlags, byte tokenizer).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace weft::test {

// The model flags of the tiny transformer whose checkpoints tiny_transformer_weights reads (10,960 parameters).
inline constexpr const char* kTinyTransformerFlags = "--d-model 16 --n-layers 2 --n-heads 2 --seq-len 16";

// step -> loss of every line of RUN/metrics.jsonl that has both (validation lines have none); empty when the
// file is missing.
std::map<int, double> logged_losses(const std::string& run_dir);

// Every parameter of the tiny transformer in CHECKPOINT (a step_* folder), flattened in declaration order.
std::vector<double> tiny_transformer_weights(const std::string& checkpoint);

// The raw f32 bytes of every params/ and optim/ dataset of CHECKPOINT's rank_00000.h5, in file order: two
// checkpoints hold the same weights and AdamW moments bit for bit when these are equal (the resume tests).
std::vector<char> checkpoint_state_bytes(const std::string& checkpoint);

// max |a[i] - b[i]|; infinity when the sizes differ.
double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace weft::test
