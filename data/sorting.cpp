// The sorting task's generator, its data folder (tokens + loss mask per split) and the symbol tokenizer.
// Examples are generated in parallel batches (each is a pure function of (seed, index)), written in order.
#include "data/sorting.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>

#include "data/loss_mask.h"
#include "data/prepare.h"
#include "data/shard.h"
#include "data/split.h"
#include "runtime/check.h"
#include "runtime/rng.h"

namespace weft::data {

namespace fs = std::filesystem;

namespace {

class SymbolTokenizer final : public Tokenizer {
 public:
  explicit SymbolTokenizer(int symbols) : n_(symbols) {
    WEFT_CHECK(symbols >= 1 && symbols <= 26, "[tokenizer] symbols must be in [1, 26], got ", symbols);
  }
  std::string name() const override { return "symbols"; }
  std::vector<int32_t> encode(const std::string& text) const override {
    std::vector<int32_t> ids;
    for (char c : text) {
      if (c == ' ' || c == '\n' || c == '\t' || c == '\r') continue;
      if (c == '|') ids.push_back(n_);
      else if (c >= 'a' && c < 'a' + n_) ids.push_back(c - 'a');
      else WEFT_FAIL("[tokenizer] symbols ", n_, ": '", std::string(1, c), "' is not a symbol (a..",
                     std::string(1, static_cast<char>('a' + n_ - 1)), " or the separator |)");
    }
    return ids;
  }
  std::string decode(const std::vector<int32_t>& ids) const override {
    std::string s;
    for (int32_t id : ids)
      if (id >= 0 && id < n_) s += static_cast<char>('a' + id);
      else if (id == n_) s += '|';
    return s;
  }
  int64_t vocab_size() const override { return n_ + 2; }
  int32_t eot() const override { return n_ + 1; }
  std::string description() const override { return "symbols " + std::to_string(n_); }

 private:
  int n_;
};

double uniform01(Rng& rng) { return static_cast<double>(rng.next_u64() >> 11) * 0x1.0p-53; }

}  // namespace

std::unique_ptr<Tokenizer> make_symbol_tokenizer(int symbols) { return std::make_unique<SymbolTokenizer>(symbols); }

SortingExample generate_sorting_example(uint64_t seed, uint64_t index, int64_t S) {
  WEFT_CHECK(S >= 1, "--sequence-length must be positive, got ", S);
  WEFT_CHECK(index < (uint64_t(1) << 32), "[sorting] example index ", index, " beyond 2^32");
  constexpr int K = kSortingSymbols;
  Rng rng(seed, static_cast<uint32_t>(index));
  std::array<double, K> p_init{}, p_final{};
  for (auto* p : {&p_init, &p_final}) {
    double total = 0;
    for (double& w : *p) total += (w = 1.0 + static_cast<double>(std::min<uint64_t>(rng.next_u64() % 9, 8)));
    for (double& w : *p) w /= total;
  }
  SortingExample ex;
  ex.tokens.reserve(static_cast<size_t>(S) + 1 + K);
  std::array<int64_t, K> count{};
  for (int64_t j = 0; j < S; ++j) {
    const double r = static_cast<double>(j + 1) / static_cast<double>(S);
    const double u = uniform01(rng);
    double acc = 0;
    int sym = K - 1;  // rounding: the last symbol takes what the cumulative sum misses
    for (int k = 0; k < K; ++k) {
      acc += (1 - r) * p_init[k] + r * p_final[k];
      if (u < acc) {
        sym = k;
        break;
      }
    }
    ex.tokens.push_back(sym);
    ++count[sym];
  }
  std::array<int32_t, K> order{};
  for (int k = 0; k < K; ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return count[a] > count[b]; });
  ex.tokens.push_back(K);  // separator
  ex.tokens.insert(ex.tokens.end(), order.begin(), order.end());
  ex.mask.assign(ex.tokens.size(), 0);
  std::fill(ex.mask.end() - K, ex.mask.end(), 1);
  return ex;
}

SortingStats prepare_builtin_sorting(const SortingOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  WEFT_CHECK(opt.sequence_length >= 1, "--builtin sorting needs --sequence-length S (symbols before the separator)");
  WEFT_CHECK(opt.examples >= 2, "--examples must be >= 2 (train and validation), got ", opt.examples);
  WEFT_CHECK(opt.examples < (int64_t(1) << 32), "--examples must be < 2^32, got ", opt.examples);
  WEFT_CHECK(opt.val_fraction > 0 && opt.val_fraction < 1, "--val-fraction must be in (0, 1) for --builtin sorting, got ",
             opt.val_fraction);
  WEFT_CHECK(!opt.out_dir.empty(), "[prepare] no output folder given");
  auto tok = make_symbol_tokenizer(kSortingSymbols);
  const int32_t eot = tok->eot();
  SplitWriter train(opt.out_dir, "train", tok->vocab_size(), eot), val(opt.out_dir, "val", tok->vocab_size(), eot);
  const std::string train_mask_path = (fs::path(opt.out_dir) / (mask_split_name("train") + ".bin")).string();
  const std::string val_mask_path = (fs::path(opt.out_dir) / (mask_split_name("val") + ".bin")).string();
  ShardWriter train_mask(train_mask_path, 2), val_mask(val_mask_path, 2);
  SortingStats st;
  constexpr int64_t kBatch = 64;
  std::vector<SortingExample> batch(kBatch);
  std::vector<int32_t> bits;
  // Too few examples for the rule at this fraction: the last one validates (as weft prepare --input does).
  const bool last_validates = [&] {
    for (int64_t i = 0; i < opt.examples; ++i)
      if (is_validation_document(i, opt.val_fraction)) return false;
    return true;
  }();
  for (int64_t first = 0; first < opt.examples; first += kBatch) {
    const int64_t n = std::min(kBatch, opt.examples - first);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t k = 0; k < n; ++k)
      batch[k] = generate_sorting_example(opt.seed, static_cast<uint64_t>(first + k), opt.sequence_length);
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = first + k;
      const bool is_val = last_validates ? i == opt.examples - 1 : is_validation_document(i, opt.val_fraction);
      (is_val ? val : train).add_document(batch[k].tokens);
      bits.assign(batch[k].mask.begin(), batch[k].mask.end());
      bits.push_back(0);  // the end-of-text after the document
      (is_val ? val_mask : train_mask).append(bits);
      ++(is_val ? st.val_examples : st.train_examples);
    }
  }
  st.train_tokens = train.tokens();
  st.val_tokens = val.tokens();
  const std::vector<std::string> train_files = train.close(), val_files = val.close();
  train_mask.close();
  val_mask.close();
  save_tokenizer_description(*tok, opt.out_dir);
  write_data_summary(opt.out_dir, "builtin sorting", *tok, opt.examples, st.train_tokens, st.val_tokens, train_files,
                     val_files,
                     "\"task\": \"sorting\",\n  \"sequence_length\": " + std::to_string(opt.sequence_length) +
                         ",\n  \"symbols\": " + std::to_string(kSortingSymbols) + ",\n  \"separator\": " +
                         std::to_string(kSortingSymbols) + ",\n  \"example_tokens\": " +
                         std::to_string(opt.sequence_length + kSortingSymbols + 2) + ",\n  \"seed\": " +
                         std::to_string(opt.seed) + ",\n  \"train_examples\": " + std::to_string(st.train_examples) +
                         ",\n  \"val_examples\": " + std::to_string(st.val_examples) +
                         ",\n  \"loss_mask\": [\"train_mask.bin\", \"val_mask.bin\"]");
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

}  // namespace weft::data
