// Runs the emulator checks (one PASS/FAIL line per case); `main rows|misc|pointwise` runs one group.
#include <cstring>

#include "check_util.h"

void check_rows();
void check_misc();
void check_pointwise();

int main(int argc, char** argv) {
  const char* only = argc > 1 ? argv[1] : "";
  if (!*only || !std::strcmp(only, "rows")) check_rows();
  if (!*only || !std::strcmp(only, "misc")) check_misc();
  if (!*only || !std::strcmp(only, "pointwise")) check_pointwise();
  std::printf("%d of %d cases failed\n", check::failures(), check::cases());
  return check::failures() != 0;
}

// cpu_exec (backend_cpu/exec_cpu.cpp) sets OpenBLAS's thread count; the checked twins never call BLAS.
extern "C" __attribute__((weak)) void openblas_set_num_threads(int) {}
