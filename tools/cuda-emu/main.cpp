// Runs the emulator checks (one PASS/FAIL line per case); `main rows|misc|pointwise|attention` runs one group.
#include <cstring>

#include "check_util.h"

void check_rows();
void check_misc();
void check_pointwise();
void check_attention();

int main(int argc, char** argv) {
  const char* only = argc > 1 ? argv[1] : "";
  if (!*only || !std::strcmp(only, "rows")) check_rows();
  if (!*only || !std::strcmp(only, "misc")) check_misc();
  if (!*only || !std::strcmp(only, "pointwise")) check_pointwise();
  if (!*only || !std::strcmp(only, "attention")) check_attention();
  std::printf("%d of %d cases failed\n", check::failures(), check::cases());
  return check::failures() != 0;
}
