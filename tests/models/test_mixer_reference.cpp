// The masked mixer (every variant) and the transformer-mixer hybrid (serial, parallel) against the independent
// PyTorch reference (tools/reference/mixer_reference.py: Conv1d with tril-masked weights, Hugging Face's Llama
// layer): same parameters and tokens, the loss and every parameter gradient must match. The fixtures' mixing
// matrices have non-zero upper triangles, which weft must ignore (their gradient is zero on both sides), and
// some run at T < L (the top-left block). Compared in f32 (relative 1e-5 of each tensor's largest value) and
// in f64 (1e-6; the reference computes in float64 from float32-rounded parameters).
#include <gtest/gtest.h>

#include "tests/harness/model_reference.h"

namespace weft::models {
namespace {

class MixerReference : public ::testing::TestWithParam<std::string> {};

TEST_P(MixerReference, LossAndGradientsF32) { test::check_family_against_fixture(GetParam(), DType::f32, 1e-5); }
TEST_P(MixerReference, LossAndGradientsF64) { test::check_family_against_fixture(GetParam(), DType::f64, 1e-6); }

INSTANTIATE_TEST_SUITE_P(PyTorch, MixerReference,
                         ::testing::Values("mixer_flat", "mixer_flat_full", "mixer_heads", "mixer_heads_short",
                                           "mixer_kernel", "mixer_kernel3", "mixer_expanded", "mixer_parallel",
                                           "hybrid_serial", "hybrid_serial_full", "hybrid_parallel"));

}  // namespace
}  // namespace weft::models
