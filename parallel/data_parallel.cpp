// GradSync implementation.
#include "parallel/data_parallel.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace weft::par {

GradSync::GradSync(ParamStore& store, Communicator& comm, int64_t bucket_bytes, RangeFn before_reduce,
                   Communicator* expert_comm)
    : store_(store), comm_(comm), before_reduce_(std::move(before_reduce)) {
  WEFT_CHECK(bucket_bytes > 0, "--bucket-mb must be positive");
  const int64_t es = static_cast<int64_t>(dtype_size(store.dtype()));
  auto comm_of = [&](int id) {
    return expert_comm && store.info(id).group == ParamGroup::expert ? expert_comm : &comm;
  };
  Bucket cur{0, 0, {}, 0, -1, nullptr};
  for (int id = 0; id < store.size(); ++id) {  // parameters in layout order
    cur.params.push_back(id);
    cur.comm = comm_of(id);
    cur.end = id + 1 < store.size() ? store.info(id + 1).offset : store.total();
    const bool group_changes = id + 1 < store.size() && comm_of(id + 1) != cur.comm;
    if ((cur.end - cur.begin) * es >= bucket_bytes || group_changes || id + 1 == store.size()) {
      buckets_.push_back(cur);
      cur = Bucket{cur.end, cur.end, {}, 0, -1, nullptr};
    }
  }
  param_position_.assign(store.size(), std::numeric_limits<size_t>::max());
}

void GradSync::attach(Graph& g) {
  std::fill(param_position_.begin(), param_position_.end(), std::numeric_limits<size_t>::max());
  for (auto [id, pos] : g.param_positions()) param_position_[id] = std::min(param_position_[id], pos);
  for (Bucket& b : buckets_) {
    b.handle = -1;
    b.ready_below = std::numeric_limits<size_t>::max();
    for (int id : b.params) b.ready_below = std::min(b.ready_below, param_position_[id]);
  }
  g.set_backward_hook(&GradSync::on_position, this);
}

void GradSync::on_position(void* self, size_t position) {
  auto* s = static_cast<GradSync*>(self);
  for (Bucket& b : s->buckets_)  // later buckets hold later layers: they become final first
    if (b.handle == -1 && b.ready_below != std::numeric_limits<size_t>::max() && position <= b.ready_below) s->start(b);
}

void GradSync::start(Bucket& b) {
  if (before_reduce_) before_reduce_(b.begin, b.end);
  Tensor g = store_.grads();
  char* base = static_cast<char*>(g.data) + b.begin * static_cast<int64_t>(dtype_size(g.dtype));
  b.handle = b.comm->size() > 1 ? b.comm->start_all_reduce(base, b.end - b.begin, g.dtype, ReduceOp::sum) : kNothing;
}

void GradSync::finish() {
  for (Bucket& b : buckets_)
    if (b.handle == -1) start(b);
  for (Bucket& b : buckets_) {
    if (b.handle != kNothing) b.comm->wait(b.handle);
    b.handle = -1;
  }
}

}  // namespace weft::par
