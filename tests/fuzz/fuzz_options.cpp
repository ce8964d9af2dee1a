// Fuzzes the INI + flags parser (launch/options.h) with `weft train`'s [train], [data] and [checkpoint]
// groups, through the path `--config FILE` takes: the input is written as FILE and parsed with
// OptionSet::parse({"--config", FILE}), then validated by train_options(). Any input must either be
// rejected with a UsageError / weft::Error (exit 2 with a message naming the key) or be accepted; an
// accepted file's effective configuration (what a run writes as OUT/config.ini) must parse again to the
// same configuration, so a run's config.ini can always be fed back.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "launch/options.h"
#include "launch/train_options.h"
#include "tests/fuzz/fuzz_files.h"

namespace {

const weft::launch::OptionSet& train_set() {
  static const weft::launch::OptionSet set = [] {
    weft::launch::OptionSet s("train");
    weft::launch::add_train_options(s);
    return s;
  }();
  return set;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = weft::fuzz::scratch_dir("options");
  const std::string path = dir + "/config.ini";
  weft::fuzz::write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));
  const weft::launch::OptionSet& set = train_set();
  std::string effective;
  try {
    auto vm = set.parse({"--config", path});
    weft::launch::train_options(vm);
    effective = set.effective_ini(vm);
  } catch (const weft::Error&) {
    return 0;  // rejected with a message (UsageError is a weft::Error)
  }
  // Accepted: its effective configuration must be accepted again, unchanged.
  const std::string again = dir + "/config_again.ini";
  weft::fuzz::write_file(again, effective);
  auto vm = set.parse({"--config", again});
  weft::launch::train_options(vm);
  if (set.effective_ini(vm) != effective) std::abort();
  return 0;
}
