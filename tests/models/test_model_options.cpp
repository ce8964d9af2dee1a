// The [model] flags built from the registry (launch/model_options.h): the family is chosen before parsing,
// stored configurations build any family and take defaults for keys they lack, unknown keys are named,
// and real values survive the text round trip of config.ini bit for bit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "launch/model_options.h"
#include "models/bag/bag.h"
#include "models/transformer/transformer.h"

namespace weft::launch {
namespace {

TEST(ModelOptions, ChosenModelFromFlagsOrConfigOrDefault) {
  EXPECT_EQ(chosen_model({"--d-model", "8"}), "transformer");
  EXPECT_EQ(chosen_model({"--model", "bag"}), "bag");
  EXPECT_EQ(chosen_model({"--model=bag", "--steps", "3"}), "bag");
  const std::string path = std::filesystem::temp_directory_path() / ("weft_model_options_" + std::to_string(::getpid()) + ".ini");
  std::ofstream(path) << "[train]\nsteps = 3\n[model]\n  model =  bag \n";
  EXPECT_EQ(chosen_model({"--config", path}), "bag");
  EXPECT_EQ(chosen_model({"--config=" + path, "--model", "transformer"}), "transformer");  // the flag wins
  std::remove(path.c_str());
}

TEST(ModelOptions, StoredConfigurationsBuildEveryFamilyWithDefaultsForMissingKeys) {
  int64_t seq_len = 0;
  auto bag = make_model_from_ini("[model]\nmodel = bag\nvocab-size = 50\n", &seq_len);
  EXPECT_EQ(bag->name(), "bag");
  EXPECT_EQ(bag->vocab_size(), 50);
  EXPECT_EQ(seq_len, 256);  // the shared default
  // A transformer configuration written before a key existed (no model key, no rope-base): defaults.
  auto t = make_model_from_ini("[model]\nvocab-size = 40\nd-model = 8\nn-heads = 2\nposition = rope\n[train]\nlr = 1\n");
  auto* tr = dynamic_cast<models::Transformer*>(t.get());
  ASSERT_NE(tr, nullptr);
  EXPECT_EQ(tr->config().rope_base, 10000.0f);
  EXPECT_EQ(tr->config().d_model, 8);
}

TEST(ModelOptions, UnknownKeysAndValuesAreNamed) {
  try {
    make_model_from_ini("[model]\nmodel = bag\nvocab-size = 50\nn-heads = 2\n");
    FAIL() << "a transformer key in a bag configuration was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("n-heads"), std::string::npos) << e.what();
  }
  try {
    make_model_from_ini("[model]\nmodel = bag\nvocab-size = 50\nbag-window = 0\n");
    FAIL() << "a bad value was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--bag-window"), std::string::npos) << e.what();
  }
  try {
    make_model_from_ini("[model]\nmodel = nope\n");
    FAIL() << "an unknown family was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--model: unknown architecture 'nope'"), std::string::npos) << e.what();
  }
}

TEST(ModelOptions, RealValuesRoundTripThroughTheEffectiveConfiguration) {
  OptionSet set("train");
  add_model_options(set, "transformer");
  po::variables_map vm = set.parse({"--rope-fraction", "0.84", "--dropout", "0.123456789012345"});
  const std::string ini = set.effective_ini(vm);
  EXPECT_NE(ini.find("rope-fraction = 0.84\n"), std::string::npos) << ini;
  EXPECT_NE(ini.find("dropout = 0.123456789012345\n"), std::string::npos) << ini;
  // --rope-fraction 0.84 of a 150-channel head rotates 126 channels (not 124 as a float product gives).
  auto m = make_model_from_ini("[model]\nvocab-size = 40\nd-model = 300\nn-heads = 2\nposition = rope\n"
                               "rope-fraction = 0.84\n");
  EXPECT_EQ(dynamic_cast<models::Transformer&>(*m).config().rope_channels(), 126);
}

TEST(ModelOptions, AFlagOfAnotherFamilyIsNamedAsSuch) {
  OptionSet set("train");
  add_model_options(set, "bag");
  try {
    parse_model_args(set, {"--n-heads", "2"}, "bag");
    FAIL() << "--n-heads was accepted for the bag model";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--n-heads is a flag of model 'transformer'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace weft::launch
