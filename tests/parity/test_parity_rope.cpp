// CPU-vs-CUDA parity of the rope family: forward and backward of ops::rope on the cases of
// tests/cases/rope_cases.h, f32 and bf16. Every case reports SKIPPED without a GPU.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/cases/rope_cases.h"
#include "tests/harness/parity.h"

namespace weft::test {
namespace {

TEST(ParityRope, EveryCaseForwardAndBackward) {
  for (DType dt : {DType::f32, DType::bf16})
    for (const cases::RopeCase& c : cases::kRopeCases) {
      if (!cases::runs_in(c.runners, cases::kParity)) continue;
      SCOPED_TRACE(std::string(dtype_name(dt)) + " " + cases::describe(c));
      std::vector<ParityInput> in;
      in.push_back({random_f32({c.B, c.T, c.NH, c.HS}, 80), true});
      // bf16: a rotation of 2^-9-rounded inputs, rounded again on output (|x| <= 1): default bf16 tolerance.
      WEFT_PARITY(in, ([c](Graph& g, const std::vector<Var>& v) {
                    return std::vector<Var>{ops::rope(g, v[0], c.n_rot, cases::kRopeBase, c.pos_offset)};
                  }),
                  dt, default_tolerance(dt));
    }
}

}  // namespace
}  // namespace weft::test
