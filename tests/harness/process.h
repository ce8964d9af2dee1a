// Running a shell command from a test: exit code and combined stdout/stderr (the CLI, checkpoint, MPI tests).
#pragma once

#include <string>

namespace weft::test {

struct ProcessResult {
  int code;         // exit status, -1 if the process did not exit normally
  std::string out;  // stdout and stderr
};

ProcessResult run_shell(const std::string& command);

}  // namespace weft::test
