// run_shell: popen with stderr folded into stdout.
#include "tests/harness/process.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstdio>
#include <sstream>

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

namespace {
// Open MPI 4 creates its per-user session directory (/tmp/ompi.HOST.UID) when a job starts and removes it when the
// last job ends; two mpiruns starting together (ctest -j) race on that mkdir and one fails in orte_init ("File
// exists"). Each test process gets a session base of its own (removed at exit, when Open MPI left it empty).
const std::string& session_base() {
  static const std::string dir = [] {
    std::string d = "/tmp/weft-ompi-" + std::to_string(getpid());
    mkdir(d.c_str(), 0700);
    static std::string to_remove = d;
    std::atexit([] { rmdir(to_remove.c_str()); });
    return d;
  }();
  return dir;
}
}  // namespace

std::string mpirun(int n) {
  std::string cmd = "mpirun -np " + std::to_string(n) + " --oversubscribe --bind-to none --mca orte_tmpdir_base " +
                    session_base();
  if (geteuid() == 0) cmd += " --allow-run-as-root";
  // Under the sanitizer stage (tools/run-tests.sh) leak checks stay off in ranks: Open MPI's components leak from
  // modules unloaded at MPI_Finalize, which no suppression can name. Memory errors and UB still abort.
  if (const char* asan = std::getenv("ASAN_OPTIONS")) {
    std::string options = asan;
    const size_t at = options.find("detect_leaks=1");
    if (at != std::string::npos) options.replace(at, 14, "detect_leaks=0");
    cmd += " -x ASAN_OPTIONS=" + options;
  }
  return cmd + " ";
}

std::vector<std::string> json_lines(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);)
    if (!l.empty() && l[0] == '{') lines.push_back(l);
  return lines;
}

std::string json_field(const std::string& line, const std::string& key) {
  size_t p = line.find("\"" + key + "\": ");
  if (p == std::string::npos) return "";
  p += key.size() + 4;
  const size_t end = line[p] == '['   ? line.find(']', p) + 1
                     : line[p] == '"' ? line.find('"', p + 1) + 1
                                      : line.find_first_of(",}", p);
  return line.substr(p, end - p);
}

}  // namespace weft::test
