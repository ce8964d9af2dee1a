// MoEUT against the independent PyTorch reference (tools/reference/moeut_reference.py, written from spec
// moeut.md part A): same parameters and tokens; the total loss, the cross-entropy and the entropy
// regulariser (aux terms "ce" and "reg") and every parameter gradient must match. Fixtures: peri-LN (the
// model), N_A = 1 (dense V/O with output gates), G = L (sigma-MoE, one repeat, head size 10), pre-LN, and
// a sequence shorter than seq-len. Compared in f32 (relative 1e-5 of each tensor's largest value) and f64
// (1e-6; the reference computes in float64 from float32-rounded parameters).
#include <gtest/gtest.h>

#include "tests/harness/model_reference.h"

namespace weft::models {
namespace {

class MoeutReference : public ::testing::TestWithParam<std::string> {};

TEST_P(MoeutReference, LossRegulariserAndGradientsF32) {
  test::check_family_against_fixture(GetParam(), DType::f32, 1e-5, {"ce", "reg"});
}
TEST_P(MoeutReference, LossRegulariserAndGradientsF64) {
  test::check_family_against_fixture(GetParam(), DType::f64, 1e-6, {"ce", "reg"});
}

INSTANTIATE_TEST_SUITE_P(PyTorch, MoeutReference,
                         ::testing::Values("moeut_peri", "moeut_na1", "moeut_sigma", "moeut_pre", "moeut_short"));

}  // namespace
}  // namespace weft::models
