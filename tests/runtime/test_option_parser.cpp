// Regressions found by fuzzing the INI + flags parser (tests/fuzz/fuzz_options.cpp): each input that broke
// launch/options.cpp, parsed with `weft train`'s option set. Each case runs in a child process with an
// alarm, so an input that hangs the parser fails the test within seconds instead of hanging the suite.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "launch/options.h"
#include "launch/train_options.h"

namespace weft::launch {
namespace {

// 0: parse threw a UsageError whose message holds `fragment`; 1: accepted; 2: other message; 3: other
// exception; killed by SIGALRM: hung.
int parse_in_child(const std::vector<std::string>& args, const std::string& fragment) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(20);
    OptionSet set("train");
    add_train_options(set);
    try {
      set.parse(args);
      ::_exit(1);
    } catch (const UsageError& e) {
      ::_exit(std::string(e.what()).find(fragment) != std::string::npos ? 0 : 2);
    } catch (...) {
      ::_exit(3);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

// Boost.Program_options substitutes "%value%" into its own messages until none is left: a value holding
// that text looped forever (`weft train --steps %value%` hung at 100% CPU).
TEST(OptionParser, PlaceholderTextInAValueIsAnErrorNotAHang) {
  EXPECT_EQ(parse_in_child({"--data", "d", "--out", "o", "--steps", "%value%"}, "--steps"), 0);
  EXPECT_EQ(parse_in_child({"--data", "d", "--out", "o", "--log-every=x%value%%option%"}, "--log-every"), 0);
  EXPECT_EQ(parse_in_child({"--data", "d", "--out", "o", "--%value%"}, "%value%"), 0);
  const std::string ini = ::testing::TempDir() + "weft_option_parser_" + std::to_string(::getpid()) + ".ini";
  {
    std::ofstream out(ini);
    out << "[data]\ndata = d\n[train]\nout = o\nlog-every = %value%'\n";
  }
  EXPECT_EQ(parse_in_child({"--config", ini}, "--config " + ini + ": invalid flag or value for '--log-every'"), 0);
  std::remove(ini.c_str());
  // Text with a percent sign but no placeholder keeps Boost's own message.
  EXPECT_EQ(parse_in_child({"--data", "d", "--out", "o", "--steps", "50%"}, "the argument ('50%') for option"), 0);
}

}  // namespace
}  // namespace weft::launch
