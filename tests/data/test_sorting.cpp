// The sorting task (data/sorting.h): the answer is the symbols by decreasing count (ties and absent
// symbols by id), examples are a pure function of (seed, index), the frequencies drift along the sequence;
// prepare_builtin_sorting writes tokens, end-of-text per example, a loss mask on exactly the answers, the
// symbol tokenizer, and is deterministic; errors name the flags.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "data/loss_mask.h"
#include "data/sorting.h"
#include "data/split.h"
#include "data_test_util.h"

namespace weft::data {
namespace {

using test::expect_error;
using test::read_bytes;
using test::TempDir;

TEST(Sorting, AnswerIsTheSymbolsByDecreasingCount) {
  for (uint64_t index = 0; index < 40; ++index)
    for (int64_t S : {1, 7, 50, 400}) {
      SortingExample ex = generate_sorting_example(5, index, S);
      ASSERT_EQ(static_cast<int64_t>(ex.tokens.size()), S + 1 + kSortingSymbols);
      ASSERT_EQ(ex.mask.size(), ex.tokens.size());
      std::array<int64_t, kSortingSymbols> count{};
      for (int64_t j = 0; j < S; ++j) {
        ASSERT_TRUE(ex.tokens[j] >= 0 && ex.tokens[j] < kSortingSymbols);
        ++count[ex.tokens[j]];
        EXPECT_EQ(ex.mask[j], 0);
      }
      EXPECT_EQ(ex.tokens[S], kSortingSymbols) << "separator";
      EXPECT_EQ(ex.mask[S], 0);
      std::vector<int32_t> answer(ex.tokens.begin() + S + 1, ex.tokens.end());
      std::vector<int32_t> sorted = answer;
      std::sort(sorted.begin(), sorted.end());
      for (int k = 0; k < kSortingSymbols; ++k) EXPECT_EQ(sorted[k], k) << "a permutation of the symbols";
      for (int k = 0; k + 1 < kSortingSymbols; ++k) {
        const int32_t a = answer[k], b = answer[k + 1];
        EXPECT_TRUE(count[a] > count[b] || (count[a] == count[b] && a < b))
            << "S " << S << " position " << k << ": " << a << " (" << count[a] << ") before " << b << " (" << count[b]
            << ")";
      }
      for (size_t j = S + 1; j < ex.tokens.size(); ++j) EXPECT_EQ(ex.mask[j], 1);
    }
}

TEST(Sorting, DeterministicPerSeedAndIndex) {
  const SortingExample a = generate_sorting_example(3, 11, 300);
  EXPECT_EQ(a.tokens, generate_sorting_example(3, 11, 300).tokens);
  EXPECT_NE(a.tokens, generate_sorting_example(4, 11, 300).tokens);
  EXPECT_NE(a.tokens, generate_sorting_example(3, 12, 300).tokens);
}

TEST(Sorting, FrequenciesDriftFromInitialToFinal) {
  // Over many examples the first and last tenths of a sequence differ more than two halves of the first tenth.
  double drift = 0, noise = 0;
  for (uint64_t i = 0; i < 30; ++i) {
    const SortingExample ex = generate_sorting_example(9, i, 4000);
    std::array<double, kSortingSymbols> head{}, head2{}, tail{};
    for (int j = 0; j < 200; ++j) ++head[ex.tokens[j]];
    for (int j = 200; j < 400; ++j) ++head2[ex.tokens[j]];
    for (int j = 3800; j < 4000; ++j) ++tail[ex.tokens[j]];
    for (int k = 0; k < kSortingSymbols; ++k) {
      drift += std::abs(head[k] - tail[k]);
      noise += std::abs(head[k] - head2[k]);
    }
  }
  EXPECT_GT(drift, 1.3 * noise);
}

TEST(Sorting, PrepareWritesTokensMasksAndTokenizerDeterministically) {
  TempDir dir("sorting");
  SortingOptions o;
  o.out_dir = dir / "a";
  o.sequence_length = 30;
  o.examples = 20;
  o.seed = 7;
  SortingStats st = prepare_builtin_sorting(o);
  EXPECT_EQ(st.train_examples, 18);  // val fraction 0.1: examples 9 and 19
  EXPECT_EQ(st.val_examples, 2);
  const int64_t L = 30 + 1 + kSortingSymbols + 1;  // + end-of-text
  EXPECT_EQ(st.train_tokens, 18 * L);
  auto shards = open_split(o.out_dir, "train");
  ASSERT_EQ(shards.size(), 1u);
  auto masks = open_loss_mask(o.out_dir, "train", shards);
  ASSERT_EQ(masks.size(), 1u);
  EXPECT_EQ(shards[0]->eot(), kSortingSymbols + 1);
  EXPECT_EQ(shards[0]->documents(), 18);
  int64_t counted = 0;
  for (int64_t i = 0; i < shards[0]->size(); ++i) counted += masks[0]->at(i);
  EXPECT_EQ(counted, 18 * kSortingSymbols) << "only the answers count";
  // The first training example is example 0, followed by end-of-text (mask 0 there).
  const SortingExample ex0 = generate_sorting_example(7, 0, 30);
  for (size_t j = 0; j < ex0.tokens.size(); ++j) {
    EXPECT_EQ(shards[0]->at(static_cast<int64_t>(j)), ex0.tokens[j]);
    EXPECT_EQ(masks[0]->at(static_cast<int64_t>(j)), ex0.mask[j]);
  }
  EXPECT_EQ(shards[0]->at(L - 1), kSortingSymbols + 1);
  EXPECT_EQ(masks[0]->at(L - 1), 0);
  auto tok = load_tokenizer(o.out_dir);
  EXPECT_EQ(tok->vocab_size(), kSortingSymbols + 2);
  EXPECT_EQ(tok->eot(), kSortingSymbols + 1);
  EXPECT_EQ(tok->decode(tok->encode("abt|ta")), "abt|ta");
  o.out_dir = dir / "b";
  prepare_builtin_sorting(o);
  for (const char* f : {"train.bin", "val.bin", "train_mask.bin", "val_mask.bin"})
    EXPECT_EQ(read_bytes(dir / (std::string("a/") + f)), read_bytes(dir / (std::string("b/") + f))) << f;
  o.sequence_length = 0;
  expect_error([&] { prepare_builtin_sorting(o); }, {"--sequence-length"});
  o.sequence_length = 5;
  o.examples = 1;
  expect_error([&] { prepare_builtin_sorting(o); }, {"--examples"});
}

}  // namespace
}  // namespace weft::data
