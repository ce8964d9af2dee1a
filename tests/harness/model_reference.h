// The comparison every registry family's reference test makes against a fixture of an independent PyTorch
// script (tools/reference/*_reference.py): the model built through the registry from the fixture's config
// (weft's flags plus `model`), the fixture's parameters and tokens, one training-mode loss_terms and backward;
// the total against "loss", each named aux term against the fixture tensor of that name, every parameter
// gradient against "grad.<name>", all relative to tol, and every reference parameter present in weft.
#pragma once

#include <string>
#include <vector>

#include "runtime/dtype.h"

namespace weft::test {

void check_family_against_fixture(const std::string& fixture, DType dt, double tol,
                                  const std::vector<std::string>& aux = {});

}  // namespace weft::test
