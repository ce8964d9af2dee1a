// MixedPrecision implementation: casts over flat ranges of the two stores.
#include "runtime/optim/mixed_precision.h"

#include "runtime/kernels.h"

namespace weft::optim {

MixedPrecision::MixedPrecision(const ParamStore& master, DType compute_dtype) : compute_(master.mirror(compute_dtype)) {
  WEFT_CHECK(dtype_size(compute_dtype) < dtype_size(master.dtype()), "[MixedPrecision] compute dtype ",
             dtype_name(compute_dtype), " must be narrower than the master dtype ", dtype_name(master.dtype()));
}

void MixedPrecision::refresh(Exec& ex, const ParamStore& master) {
  const Tensor src = master.values(), dst = compute_.values();
  WEFT_LAUNCH(ex, cast, ex, dst.dtype, dst.data, src.dtype, src.data, src.numel(), false);
}

void MixedPrecision::fold_grads(Exec& ex, ParamStore& master, int64_t begin, int64_t end) {
  WEFT_CHECK(0 <= begin && begin <= end && end <= master.total(), "[MixedPrecision] range [", begin, ", ", end,
             ") outside the ", master.total(), " parameters");
  if (begin == end) return;
  const Tensor narrow = compute_.grads(), wide = master.grads();
  char* n = static_cast<char*>(narrow.data) + begin * static_cast<int64_t>(dtype_size(narrow.dtype));
  char* w = static_cast<char*>(wide.data) + begin * static_cast<int64_t>(dtype_size(wide.dtype));
  WEFT_LAUNCH(ex, cast, ex, wide.dtype, w, narrow.dtype, n, end - begin, true);
  WEFT_LAUNCH(ex, fill_zero, ex, n, (end - begin) * static_cast<int64_t>(dtype_size(narrow.dtype)));
}

}  // namespace weft::optim
