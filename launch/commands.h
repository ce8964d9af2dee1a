// The subcommands of the weft binary; each takes the arguments after its name and returns an exit code.
#pragma once

#include <string>
#include <vector>

namespace weft::launch {

int cmd_prepare(const std::vector<std::string>& args);
int cmd_tokenizer(const std::vector<std::string>& args);
int cmd_train(const std::vector<std::string>& args);
int cmd_eval(const std::vector<std::string>& args);
int cmd_sample(const std::vector<std::string>& args);
int cmd_plot(const std::vector<std::string>& args);
int cmd_inspect(const std::vector<std::string>& args);
int cmd_bench(const std::vector<std::string>& args);
int cmd_embed(const std::vector<std::string>& args);
int cmd_retrieval(const std::vector<std::string>& args);
int cmd_analyze(const std::vector<std::string>& args);

}  // namespace weft::launch
