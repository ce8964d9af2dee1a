// Command-line and config-file options of every weft subcommand, on Boost.Program_options.
// Each subcommand declares its flag groups; `--config FILE.ini` supplies the same keys as
// "[group] flag = value" (e.g. [model] d-model = 256) and flags on the command line override the file.
// Errors (unknown key, missing required flag, invalid value) are weft::launch::UsageError: one line
// naming the key; main() turns them into exit code 2.
#pragma once

#include <boost/program_options.hpp>
#include <map>
#include <string>
#include <vector>

#include "runtime/check.h"

namespace weft::launch {

namespace po = boost::program_options;

struct UsageError : Error {
  using Error::Error;
};

class OptionSet {
 public:
  explicit OptionSet(std::string command) : command_(std::move(command)) {}
  // The flag group `name` ("model", "train", ...), created on first use; groups print in creation order.
  po::options_description& group(const std::string& name);
  // Parse the arguments after the subcommand, then the --config file if given. Throws UsageError.
  po::variables_map parse(const std::vector<std::string>& args) const;
  // Every option of every group with its final value, as INI text that --config accepts (one-shot flags left out).
  std::string effective_ini(const po::variables_map& vm) const;
  // A flag that acts once (--restart) and so is not part of the configuration a run saves and is re-fed with.
  void one_shot(const std::string& key) { one_shot_.push_back(key); }
  std::string help() const;

 private:
  po::options_description all() const;
  std::vector<std::string> ini_to_args(const std::string& path) const;

  std::string command_;
  std::vector<std::string> order_, one_shot_;
  std::map<std::string, po::options_description> groups_;
};

std::string value_to_string(const po::variable_value& v);  // "" for empty values

// A real-valued flag whose --help default reads as written (0.05, not 0.050000000000000003).
po::typed_value<double>* real_value(double default_value);

// key -> value of one [section] of INI text as effective_ini() writes it (a checkpoint's configuration).
std::map<std::string, std::string> ini_section(const std::string& ini, const std::string& section);

// Typed access with a clear error for a missing flag.
template <class T>
T get(const po::variables_map& vm, const std::string& key) {
  if (!vm.count(key)) throw UsageError("--" + key + " is required");
  return vm[key].as<T>();
}

}  // namespace weft::launch
