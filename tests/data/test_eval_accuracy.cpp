// Evaluation on masked data (launch/evaluation.h) with stub models on a sorting folder: an oracle that reads
// the targets scores accuracy 1 and every answer exact; one wrong token costs one token and one answer;
// evaluate_segments passes evaluation stream ids (>= kEvalStreamBase) and starts flags (each stream's first
// segment, each example's first segment when examples are whole segments), visits every segment once, and
// continues an answer across a stream's segments; the windows loop scores answers window by window.
#include <gtest/gtest.h>

#include <deque>
#include <set>

#include "data/loss_mask.h"
#include "data/segments.h"
#include "data/sorting.h"
#include "data/split.h"
#include "data_test_util.h"
#include "launch/evaluation.h"
#include "runtime/graph.h"

namespace weft {
namespace {

constexpr int64_t V = data::kSortingSymbols + 2;

// Logits: one-hot of the target (stream_logits, which sees the batch) or of the input (logits).
class Oracle final : public models::Model {
 public:
  std::string name() const override { return "oracle"; }
  void declare(ParamStore&) override {}
  Var loss(Graph&, ParamStore&, const models::Batch&, Rng&, bool) override { throw Error("not used"); }
  Var logits(Graph& g, ParamStore&, const Tensor& ids) override { return one_hot(g, ids, -1); }
  Var stream_logits(Graph& g, ParamStore&, const models::Batch& batch) override {
    const int64_t n = batch.inputs.shape[0];
    for (int64_t r = 0; r < n; ++r) {
      streams.insert(batch.streams[r]);
      starts += batch.starts[r];
      ++segments;
    }
    return one_hot(g, batch.targets, wrong_at);
  }
  double flops_per_token(int64_t) const override { return 0; }
  int64_t vocab_size() const override { return V; }

  std::set<int64_t> streams;
  int64_t starts = 0, segments = 0, wrong_at = -1, calls = 0;

 private:
  // (B, T, V) with 1 at each id (ignored targets: class 0); token `wrong` of the first call predicts id + 1.
  Var one_hot(Graph& g, const Tensor& ids, int64_t wrong) {
    const int64_t B = ids.shape[0], T = ids.shape[1];
    OwnedTensor& t = owned_.emplace_back(DType::f32, Shape{B, T, V});
    float* p = t.ptr<float>();
    std::fill(p, p + B * T * V, 0.0f);
    const int32_t* id = static_cast<const int32_t*>(ids.data);
    for (int64_t i = 0; i < B * T; ++i) {
      int32_t c = id[i] < 0 ? 0 : id[i];
      if (calls == 0 && i == wrong) c = (c + 1) % static_cast<int32_t>(V);
      p[i * V + c] = 1.0f;
    }
    ++calls;
    return g.constant(t.tensor());
  }
  std::deque<OwnedTensor> owned_;
};

struct Folder {
  data::test::TempDir dir{"evalacc"};
  Folder() {
    data::SortingOptions o;
    o.out_dir = dir.path();
    o.sequence_length = 18;  // examples of 18 + 1 + 20 + 1 = 40 tokens: two segments of 20
    o.examples = 30;         // 27 train, 3 validation
    o.val_fraction = 0.1;
    data::prepare_builtin_sorting(o);
  }
};

TEST(EvalAccuracy, SegmentsOracleIsExactAndOneWrongTokenCostsOneAnswer) {
  Folder f;
  auto shards = data::open_split(f.dir.path(), "train");
  data::SegmentLoader loader(shards, 20, 3);
  loader.set_loss_mask(data::open_loss_mask(f.dir.path(), "train", shards));
  ParamStore store;
  store.finalize();
  Exec ex = cpu_exec(1);
  Arena arena(Device::cpu);
  auto comm = par::make_local_communicator();
  const launch::EvalRequest all{1 << 20, 3, true};
  Oracle oracle;
  launch::EvalTotals t = launch::evaluate_segments(oracle, store, ex, arena, loader, all, *comm);
  EXPECT_EQ(t.tokens, 27 * 20);
  EXPECT_EQ(t.correct, 27 * 20);
  EXPECT_EQ(t.sequences, 27);
  EXPECT_EQ(t.exact_sequences, 27);
  EXPECT_DOUBLE_EQ(t.accuracy(), 1.0);
  EXPECT_EQ(oracle.segments, 54) << "every segment once";
  EXPECT_EQ(oracle.starts, 27) << "each example begins a segment";
  EXPECT_EQ(oracle.streams, (std::set<int64_t>{models::kEvalStreamBase, models::kEvalStreamBase + 1,
                                               models::kEvalStreamBase + 2}));
  // One wrong token: the first answer token of the first example (target 18 of stream 0's segment 0; the
  // answer continues in segment 1).
  Oracle wrong;
  std::vector<int32_t> in(20), tg(20);
  uint8_t start = 0;
  loader.segment(0, 0, in.data(), tg.data(), &start);
  EXPECT_EQ(start, 1);
  int64_t first_answer = -1;
  for (int64_t i = 0; i < 20 && first_answer < 0; ++i)
    if (tg[i] != data::kIgnoreIndex) first_answer = i;
  ASSERT_EQ(first_answer, 18);
  wrong.wrong_at = first_answer;  // row 0 of the first call
  t = launch::evaluate_segments(wrong, store, ex, arena, loader, all, *comm);
  EXPECT_EQ(t.correct, 27 * 20 - 1);
  EXPECT_EQ(t.exact_sequences, 26);
  EXPECT_EQ(t.sequences, 27) << "an answer split over two segments of a stream is one answer";
  // Limits: one segment per stream.
  Oracle few;
  t = launch::evaluate_segments(few, store, ex, arena, loader, launch::EvalRequest{3, 3, true}, *comm);
  EXPECT_EQ(few.segments, 3);
}

TEST(EvalAccuracy, WindowsCountTheSameAnswerTokens) {
  Folder f;
  auto shards = data::open_split(f.dir.path(), "val");
  data::WindowLoader loader(shards, 20, 0);
  loader.set_loss_mask(data::open_loss_mask(f.dir.path(), "val", shards));
  ParamStore store;
  store.finalize();
  Exec ex = cpu_exec(1);
  Arena arena(Device::cpu);
  auto comm = par::make_local_communicator();
  Oracle copy;  // predicts its input: right only where an answer repeats the previous token (never)
  launch::EvalTotals t =
      launch::evaluate_windows(copy, store, ex, arena, loader, launch::EvalRequest{1 << 20, 2, true}, *comm);
  // 5 windows of 20 over 120 tokens: the answers at positions 19..38, 59..78 and 99..100 of the third; an
  // answer cut by a window's end counts as two (windows are scored one by one).
  EXPECT_EQ(t.tokens, 42);
  EXPECT_EQ(t.sequences, 5);
  EXPECT_EQ(t.correct, 0) << "answers are permutations: no token repeats its predecessor";
  EXPECT_EQ(t.exact_sequences, 0);
}

}  // namespace
}  // namespace weft
