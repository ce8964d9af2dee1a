// weft: the command line. `weft <command> [flags]`; `weft help` lists the commands.
// Exit codes: 0 success, 1 runtime failure (I/O, numerical), 2 usage or input error (bad flag, bad
// config, corrupt data or checkpoint) -- always with one line naming the flag, file or field.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "launch/commands.h"
#include "launch/options.h"

namespace {

struct Command {
  const char* name;
  int (*run)(const std::vector<std::string>& args);
  const char* summary;
};

const Command kCommands[] = {
    {"prepare", weft::launch::cmd_prepare, "build token shards: --builtin stories, or --input FILE"},
    {"tokenizer", weft::launch::cmd_tokenizer, "train a SentencePiece tokenizer: tokenizer train --input FILE"},
    {"train", weft::launch::cmd_train, "train a model: --data DIR --out RUN_DIR [model and training flags]"},
    {"eval", weft::launch::cmd_eval, "loss and perplexity of a checkpoint on a data folder"},
    {"sample", weft::launch::cmd_sample, "generate text from a checkpoint"},
    {"plot", weft::launch::cmd_plot, "draw a run's loss curves to RUN_DIR/loss.svg"},
    {"inspect", weft::launch::cmd_inspect, "a checkpoint's step, configuration and tensors (name, shape, dtype, norm)"},
    {"bench", weft::launch::cmd_bench, "training throughput and MFU on synthetic tokens: --device cuda --dtype bf16"},
    {"embed", weft::launch::cmd_embed, "embed query/document pairs with a frozen model: --checkpoint RUN --pairs F --out E.h5"},
    {"retrieval", weft::launch::cmd_retrieval, "retrieval model on embeddings: retrieval train | retrieval eval"},
    {"analyze", weft::launch::cmd_analyze, "analyses of checkpoints: analyze represent --checkpoint RUN (spec A.9)"},
};

int print_help() {
  std::printf("usage: weft <command> [flags]   (weft <command> --help for its flags)\n\ncommands:\n");
  for (const auto& c : kCommands) std::printf("  %-10s %s\n", c.name, c.summary);
  std::printf("  %-10s %s\n", "help", "this text");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f, quota) must surface as a write error naming the file, not kill us.
  std::signal(SIGXFSZ, SIG_IGN);
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))
    return print_help();
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& c : kCommands) {
    if (std::strcmp(argv[1], c.name)) continue;
    try {
      return c.run(args);
    } catch (const weft::launch::UsageError& e) {
      std::fprintf(stderr, "weft %s: %s\n", c.name, e.what());
      return 2;
    } catch (const weft::Error& e) {
      std::fprintf(stderr, "weft %s: %s\n", c.name, e.what());
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "weft %s: fatal: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "weft: unknown command '%s' (weft help lists them)\n", argv[1]);
  return 2;
}
