// Stream ownership and the gather of model state to rank 0 (serialised tensors, one broadcast per rank).
#include "launch/model_state.h"

#include <cstring>

namespace weft::launch {

std::vector<int64_t> stream_ids(int64_t micro, int rank, int world, int64_t B) {
  std::vector<int64_t> ids(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) ids[b] = (micro * world + rank) * B + b;
  return ids;
}

bool owns_stream(int64_t stream, int rank, int world, int64_t B, int64_t accum) {
  if (stream < 0) return rank == 0;
  if (stream >= B * world * accum) return false;  // beyond this layout's global batch
  return (stream / B) % world == rank;
}

namespace {

void put(std::vector<char>& out, const void* p, size_t n) {
  const size_t at = out.size();
  out.resize(at + n);
  if (n > 0) std::memcpy(out.data() + at, p, n);
}
template <class T>
void put_value(std::vector<char>& out, T v) {
  put(out, &v, sizeof v);
}
template <class T>
T take(const std::vector<char>& in, size_t& at) {
  T v;
  WEFT_CHECK(at + sizeof v <= in.size(), "[model state] truncated transfer");
  std::memcpy(&v, in.data() + at, sizeof v);
  at += sizeof v;
  return v;
}

std::vector<char> serialise(const std::vector<models::StateTensor>& state) {
  std::vector<char> out;
  put_value<int64_t>(out, static_cast<int64_t>(state.size()));
  for (const models::StateTensor& t : state) {
    const Tensor& v = t.value.tensor();
    put_value<int64_t>(out, t.stream);
    put_value<int64_t>(out, static_cast<int64_t>(t.name.size()));
    put(out, t.name.data(), t.name.size());
    put_value<int32_t>(out, static_cast<int32_t>(v.dtype));
    put_value<int32_t>(out, v.shape.rank);
    for (int d = 0; d < v.shape.rank; ++d) put_value<int64_t>(out, v.shape[d]);
    put(out, v.data, v.nbytes());
  }
  return out;
}

void deserialise(const std::vector<char>& in, std::vector<models::StateTensor>& out) {
  size_t at = 0;
  const auto n = take<int64_t>(in, at);
  for (int64_t i = 0; i < n; ++i) {
    models::StateTensor t;
    t.stream = take<int64_t>(in, at);
    const auto len = take<int64_t>(in, at);
    t.name.assign(in.data() + at, static_cast<size_t>(len));
    at += static_cast<size_t>(len);
    const auto dt = static_cast<DType>(take<int32_t>(in, at));
    Shape shape;
    shape.rank = take<int32_t>(in, at);
    for (int d = 0; d < shape.rank; ++d) shape.dims[d] = take<int64_t>(in, at);
    t.value = OwnedTensor(dt, shape);
    std::memcpy(t.value.tensor().data, in.data() + at, t.value.tensor().nbytes());
    at += t.value.tensor().nbytes();
    out.push_back(std::move(t));
  }
}

}  // namespace

std::vector<models::StateTensor> gather_model_state(const std::vector<models::StateTensor>& local,
                                                    par::Communicator& comm) {
  std::vector<models::StateTensor> all;
  if (comm.size() == 1) {
    deserialise(serialise(local), all);  // a deep copy, as on several ranks
    return all;
  }
  std::vector<char> mine = serialise(local);
  mine.resize((mine.size() + 7) / 8 * 8);  // whole i64 words on the wire
  for (int r = 0; r < comm.size(); ++r) {
    int64_t words = comm.rank() == r ? static_cast<int64_t>(mine.size() / 8) : 0;
    comm.broadcast(&words, 1, DType::i64, r);
    std::vector<char> buf(comm.rank() == r ? mine : std::vector<char>(static_cast<size_t>(words) * 8));
    comm.broadcast(buf.data(), words, DType::i64, r);
    if (comm.rank() == 0) deserialise(buf, all);
  }
  return all;
}

}  // namespace weft::launch
