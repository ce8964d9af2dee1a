// run_shell: popen with stderr folded into stdout.
#include "tests/harness/process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>

namespace weft::test {

ProcessResult run_shell(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string mpirun(int n) {
  std::string cmd = "mpirun -np " + std::to_string(n) + " --oversubscribe --bind-to none";
  if (geteuid() == 0) cmd += " --allow-run-as-root";
  return cmd + " ";
}

}  // namespace weft::test
