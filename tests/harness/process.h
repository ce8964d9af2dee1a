// Running a shell command from a test: exit code and combined stdout/stderr (the CLI, checkpoint, MPI tests),
// and reading the one-line JSON objects the commands print.
#pragma once

#include <string>
#include <vector>

namespace weft::test {

struct ProcessResult {
  int code;         // exit status, -1 if the process did not exit normally
  std::string out;  // stdout and stderr
};

ProcessResult run_shell(const std::string& command);

// "mpirun -np N --oversubscribe --bind-to none --mca orte_tmpdir_base DIR [--allow-run-as-root] " (the root
// flag when running as root; DIR: this test process's own Open MPI session base): the prefix the multi-rank CLI
// tests put before a weft command.
std::string mpirun(int n);

// The lines of a command's output that are JSON objects (start with '{'), in order.
std::vector<std::string> json_lines(const std::string& out);
// The text of "key": VALUE in a one-line JSON object: a number as written, a "string" with its quotes, an
// [array] with its brackets; "" when the key is absent.
std::string json_field(const std::string& line, const std::string& key);

}  // namespace weft::test
