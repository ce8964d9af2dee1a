// The plots of the built-in stories (internal to weft_data). A plot is a list of beats, templates in the
// language of story_template.h expanded in order and joined with spaces (a beat that only binds
// variables prints nothing), and a one-sentence summary template expanded after the story, so it refers
// to the same choices. Every plot binds `moral`, used by the shared endings.
#pragma once

#include <string_view>
#include <vector>

namespace weft::data::story {

struct Plot {
  std::string_view name;
  std::vector<std::string_view> beats;
  std::string_view summary;
};

const std::vector<Plot>& plots_everyday();   // story_plots_a.cpp
const std::vector<Plot>& plots_adventure();  // story_plots_b.cpp

}  // namespace weft::data::story
