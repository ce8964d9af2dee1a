// Runs the emulator checks, one PASS/FAIL line per case, family by family (the families of
// tests/cases/ and runtime/ops/). Usage: cuda-emu-checks [--smoke] [family...]
//   family   run only these families (norm softmax xent pointwise optim reduce layout index rope mix moe attention decode)
//   --smoke  every check_util.h kSmokeStride-th case of the sequence (the CTest test, label emu)
// Exits 1 if any case failed, 2 on an unknown family.
#include <cstring>
#include <string>
#include <vector>

#include "check_util.h"

void check_norm();
void check_softmax();
void check_xent();
void check_pointwise();
void check_optim();
void check_reduce();
void check_layout();
void check_index();
void check_rope();
void check_mix();
void check_moe();
void check_attention();
void check_decode();

namespace {

struct Family {
  const char* name;
  void (*run)();
};
const Family kFamilies[] = {{"norm", check_norm},     {"softmax", check_softmax}, {"xent", check_xent},
                            {"pointwise", check_pointwise}, {"optim", check_optim}, {"reduce", check_reduce},
                            {"layout", check_layout}, {"index", check_index},     {"rope", check_rope},
                            {"mix", check_mix},       {"moe", check_moe},         {"attention", check_attention},
                            {"decode", check_decode}};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--smoke")) check::smoke() = true;
    else only.push_back(argv[i]);
  }
  for (const std::string& name : only) {
    bool known = false;
    for (const Family& f : kFamilies) known |= name == f.name;
    if (!known) {
      std::fprintf(stderr, "unknown family %s; families:", name.c_str());
      for (const Family& f : kFamilies) std::fprintf(stderr, " %s", f.name);
      std::fprintf(stderr, "\n");
      return 2;
    }
  }
  for (const Family& f : kFamilies) {
    bool wanted = only.empty();
    for (const std::string& name : only) wanted |= name == f.name;
    if (!wanted) continue;
    check::rng().seed(12345);  // a family's inputs do not depend on which families ran before it
    f.run();
  }
  std::printf("%d of %d cases failed%s\n", check::failures(), check::cases(),
              check::smoke() ? " (smoke: a sample of the cases)" : "");
  return check::failures() != 0;
}
