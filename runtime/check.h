// Error reporting for weft.
// WEFT_CHECK(cond, msg...) throws weft::Error with a "[where] message" text: use it for user, config and
// shape errors, checked once in op front-ends. Internal invariants use assert. Backend status codes
// (CUDA, cuBLAS, NCCL, MPI) have their own *_CHECK macros in the backend files, with file:line.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace weft {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace weft

#define WEFT_CHECK(cond, ...)                                        \
  do {                                                               \
    if (!(cond)) throw ::weft::Error(::weft::detail::concat(__VA_ARGS__)); \
  } while (0)

#define WEFT_FAIL(...) throw ::weft::Error(::weft::detail::concat(__VA_ARGS__))
