// Running a shell command from a test: exit code and combined stdout/stderr (the CLI, checkpoint, MPI tests).
#pragma once

#include <string>

namespace weft::test {

struct ProcessResult {
  int code;         // exit status, -1 if the process did not exit normally
  std::string out;  // stdout and stderr
};

ProcessResult run_shell(const std::string& command);

// "mpirun -np N --oversubscribe --bind-to none [--allow-run-as-root] " (the root flag when running as root):
// the prefix the multi-rank CLI tests put before a weft command.
std::string mpirun(int n);

}  // namespace weft::test
