// exchange_counts / exchange_rows / exchange_values over models::ExpertExchange.
#include "models/common/expert_exchange.h"

#include <numeric>

#include "runtime/kernels.h"

namespace weft::models {

namespace {

bool identity(const ExpertExchange* ex) { return ex == nullptr || ex->size() == 1; }

int64_t total(const std::vector<int64_t>& v) { return std::accumulate(v.begin(), v.end(), int64_t(0)); }

void check_counts(const char* op, const ExpertExchange* ex, const std::vector<int64_t>& send_rows,
                  const std::vector<int64_t>& recv_rows) {
  const size_t P = ex ? static_cast<size_t>(ex->size()) : 1;
  WEFT_CHECK(send_rows.size() == P && recv_rows.size() == P, "[", op, "] ", send_rows.size(), " send and ",
             recv_rows.size(), " receive counts for an expert group of ", P, " ranks");
  for (size_t r = 0; r < P; ++r)
    WEFT_CHECK(send_rows[r] >= 0 && recv_rows[r] >= 0, "[", op, "] negative row count for rank ", r);
  if (identity(ex))
    WEFT_CHECK(send_rows[0] == recv_rows[0], "[", op, "] one rank sends ", send_rows[0], " rows to itself but expects ",
               recv_rows[0]);
}

// Element counts and displacements of rows of `row` elements.
struct Layout {
  std::vector<int64_t> counts, displs;
};
Layout element_layout(const std::vector<int64_t>& rows, int64_t row) {
  Layout l{std::vector<int64_t>(rows.size()), std::vector<int64_t>(rows.size())};
  int64_t at = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    l.counts[r] = rows[r] * row;
    l.displs[r] = at;
    at += l.counts[r];
  }
  return l;
}

// The rows of `send` (sum(send_rows) rows of `row` elements) exchanged into `recv`.
void exchange(ExpertExchange* ex, const void* send, const std::vector<int64_t>& send_rows, void* recv,
              const std::vector<int64_t>& recv_rows, int64_t row, DType dt) {
  const Layout s = element_layout(send_rows, row), r = element_layout(recv_rows, row);
  ex->all_to_all_v(send, s.counts.data(), s.displs.data(), recv, r.counts.data(), r.displs.data(), dt);
}

Shape with_rows(Shape s, int64_t rows) {
  s.dims[0] = rows;
  return s;
}

}  // namespace

std::vector<int64_t> exchange_counts(Graph& g, ExpertExchange* ex, const std::vector<int64_t>& send_rows) {
  if (ex == nullptr) return send_rows;
  const int64_t P = ex->size();
  WEFT_CHECK(static_cast<int64_t>(send_rows.size()) == P, "[exchange_counts] ", send_rows.size(),
             " counts for an expert group of ", P, " ranks");
  if (P == 1) return send_rows;
  // Staged on the model's device (the exchange's buffers live there): one i64 to and from every rank.
  Tensor send = g.alloc(DType::i64, {P}), recv = g.alloc(DType::i64, {P});
  device_copy(send.device, send.data, Device::cpu, send_rows.data(), P * sizeof(int64_t));
  const std::vector<int64_t> ones(P, 1);
  std::vector<int64_t> displs(P);
  std::iota(displs.begin(), displs.end(), int64_t(0));
  ex->all_to_all_v(send.data, ones.data(), displs.data(), recv.data, ones.data(), displs.data(), DType::i64);
  if (recv.device == Device::cuda) cuda::synchronize(g.exec());  // the exchange is ordered on the stream
  std::vector<int64_t> out(P);
  device_copy(Device::cpu, out.data(), recv.device, recv.data, P * sizeof(int64_t));
  return out;
}

Var exchange_rows(Graph& g, Var x, ExpertExchange* ex, const std::vector<int64_t>& send_rows,
                  const std::vector<int64_t>& recv_rows) {
  const Tensor& X = x->value;
  WEFT_CHECK(X.shape.rank == 2, "[exchange_rows] x must be (M, C), got ", X.shape.str());
  check_counts("exchange_rows", ex, send_rows, recv_rows);
  WEFT_CHECK(total(send_rows) == X.shape[0], "[exchange_rows] send counts sum to ", total(send_rows), " rows but x is ",
             X.shape.str());
  if (identity(ex)) return x;
  const int64_t C = X.shape[1], R = total(recv_rows);
  Var out = g.output(g.alloc(X.dtype, {R, C}), g.needs_grad({x}));
  exchange(ex, X.data, send_rows, out->value.data, recv_rows, C, X.dtype);
  if (out->requires_grad) {
    // The tape runs a closure only where its output got a gradient; the reverse exchange is collective, so
    // y's gradient exists from now on, on every rank, even where nothing downstream reaches these rows.
    g.grad(out);
    // The reverse exchange: dy's rows from rank r go back to r, into a scratch dx that is added to x's grad.
    g.record(out, [&g, x, out, ex, send_rows, recv_rows, C] {
      Exec& e = g.exec();
      const Tensor dx = g.alloc(x->value.dtype, x->value.shape);
      exchange(ex, out->grad.data, recv_rows, dx.data, send_rows, C, x->value.dtype);
      WEFT_LAUNCH(e, copy2d, e, x->value.dtype, g.grad(x).data, C, dx.data, C, x->value.shape[0], C, true);
    });
  }
  return out;
}

Tensor exchange_values(Graph& g, const Tensor& x, ExpertExchange* ex, const std::vector<int64_t>& send_rows,
                       const std::vector<int64_t>& recv_rows) {
  WEFT_CHECK(x.shape.rank >= 1, "[exchange_values] x must have a row dimension, got ", x.shape.str());
  check_counts("exchange_values", ex, send_rows, recv_rows);
  WEFT_CHECK(total(send_rows) == x.shape[0], "[exchange_values] send counts sum to ", total(send_rows),
             " rows but x is ", x.shape.str());
  if (identity(ex)) return x;
  int64_t row = 1;  // elements per row
  for (int d = 1; d < x.shape.rank; ++d) row *= x.shape.dims[d];
  Tensor out = g.alloc(x.dtype, with_rows(x.shape, total(recv_rows)));
  exchange(ex, x.data, send_rows, out.data, recv_rows, row, x.dtype);
  return out;
}

}  // namespace weft::models
