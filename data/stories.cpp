// Story generator (cast, openings, plots, endings) and the `weft prepare --builtin stories` writer.
// Stories are generated and encoded in parallel blocks and written in order.
#include "data/stories.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "data/jsonl.h"
#include "data/prepare.h"
#include "data/split.h"
#include "data/story_plots.h"
#include "data/story_template.h"
#include "runtime/check.h"

namespace weft::data {

namespace fs = std::filesystem;
using story::Teller;

namespace {

const std::vector<std::string_view> kOpenings = {
    R"(Once upon a time, there was {+@little} {hkind} named {H}.)",
    R"({Once upon a time|Long ago|Once}, in a {little|small|quiet|sleepy} {town|village}, there lived {+@little} )"
    R"({hkind} named {H}.)",
    R"({H} was {+@little} {hkind} who {loved|liked} to {play|run|sing|explore|draw|laugh} {inplace|with {his} )"
    R"(friends|all day long}.)",
    R"(There was once {+@little} {hkind} called {H}. {^he} lived {near the {place}|in {+@color} house|with {his} )"
    R"({p}}.)",
    R"({H} {loved|liked} {going to the {place}|playing with {his} {obj}|spending time with {F}}{| more than )"
    R"(anything}.)",
    R"({H} was {+@little} {hkind}. {^he} had {+@color} {hat|coat|bag} and a {big|happy|kind} smile.)",
    R"({H} and {his} {best friend|friend|neighbor} {F} {liked|loved} to play together {inplace}.)",
    R"(In {+@color} house {near the {place}|at the end of the street|on a hill}, there lived {+@little} {hkind} )"
    R"(named {H}.)",
    R"(Everyone knew {H}, {+@little} {hkind} with a {big|loud|warm} laugh.)",
    R"({H} had {+A} named {AN}. {^he} {loved|took care of} {AN} {very much|every day}.)",
};

const std::vector<std::string_view> kEndings = {
    R"({From that day on|After that day|Ever since then}, {H} {knew|remembered|never forgot} {moral}.)",
    R"({H} smiled. {^he} had learned {moral}.)",
    R"(It was {the best day ever|a day {H} would never forget|a wonderful day}.)",
    R"(That night, {H} {fell asleep|went to bed} with a big smile on {his} face{|, and outside {@sky}}.)",
    R"({H} told {his} {p} {all about it|everything}, and {phe} said, "{I am proud of you|What a day|You did well}.")",
    R"(Outside, {@sky}, and {H} felt {@happy}.)",
    R"(And {everyone was happy|they all had a good day|that was the end of a {long|busy|happy} day}.)",
};

const std::vector<const story::Plot*>& all_plots() {
  static const std::vector<const story::Plot*> plots = [] {
    std::vector<const story::Plot*> v;
    for (const auto& p : story::plots_everyday()) v.push_back(&p);
    for (const auto& p : story::plots_adventure()) v.push_back(&p);
    return v;
  }();
  return plots;
}

std::string distinct(Teller& t, std::string_view list, const std::string& other) {
  std::string s;
  do s = std::string(t.pick(list));
  while (s == other);
  return s;
}

// The cast and setting every template may use.
void bind_cast(Teller& t) {
  const bool animal_hero = t.roll(4) == 0, girl = t.roll(2) == 0;
  const std::string hero(t.pick(animal_hero ? "pet_name" : girl ? "girl" : "boy"));
  t.bind("H", hero);
  t.bind("hkind", animal_hero ? std::string(t.pick("hero_animal")) : girl ? "girl" : "boy");
  t.bind("he", girl ? "she" : "he");
  t.bind("him", girl ? "her" : "him");
  t.bind("his", girl ? "her" : "his");
  t.bind("self", girl ? "herself" : "himself");
  const bool fgirl = t.roll(2) == 0;
  t.bind("F", distinct(t, fgirl ? "girl" : "boy", hero));
  t.bind("fhe", fgirl ? "she" : "he");
  t.bind("fhim", fgirl ? "her" : "him");
  t.bind("fhis", fgirl ? "her" : "his");
  t.expand(
      "{=P,p,phe,phim,phis:Mom,mom,she,her,her|Dad,dad,he,him,his|Grandma,grandma,she,her,her|Grandpa,grandpa,he,him,"
      "his}");
  t.bind("A", distinct(t, "animal", t.get("hkind")));
  t.bind("AN", distinct(t, "pet_name", hero));
  const bool inside = t.roll(2) == 0;
  const std::string place(t.pick(inside ? "place_in" : "place_at"));
  t.bind("place", place);
  t.bind("inplace", (inside ? "in the " : "at the ") + place);
  t.bind("obj", (t.roll(5) < 2 ? std::string(t.pick("color")) + " " : std::string()) + std::string(t.pick("toy")));
  const std::string game1(t.pick("game"));
  t.bind("game1", game1);
  t.bind("game2", distinct(t, "game", game1));
}

void append_sentence(Story& story, const std::string& s) {
  if (s.empty()) return;
  if (!story.text.empty()) story.text += ' ';
  story.text += s;
  story.beats.push_back(s);
}

// The bindings of bind_cast, recorded in Story::cast.
const char* const kCastKeys[] = {"H",   "hkind", "he",  "him", "his", "self", "F",     "fhe",     "fhim",  "fhis", "P",
                                 "p",   "phe",   "phim", "phis", "A",  "AN",   "place", "inplace", "obj", "game1", "game2"};

bool binds_only(std::string_view tmpl) {  // a beat made of {=...} groups prints nothing
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl[i] != '{' || i + 1 >= tmpl.size() || tmpl[i + 1] != '=') return false;
    i = story::matching_brace(tmpl, i) + 1;
  }
  return true;
}

}  // namespace

Story generate_story(uint64_t seed, uint64_t index) {
  Teller t(seed, index);
  bind_cast(t);
  const story::Plot& plot = *all_plots()[static_cast<size_t>(t.roll(static_cast<int>(all_plots().size())))];
  Story s;
  s.plot = plot.name;
  append_sentence(s, t.expand(kOpenings[static_cast<size_t>(t.roll(static_cast<int>(kOpenings.size())))]));
  for (std::string_view beat : plot.beats) append_sentence(s, t.expand(beat));
  if (t.roll(4) != 0)
    append_sentence(s, t.expand(kEndings[static_cast<size_t>(t.roll(static_cast<int>(kEndings.size())))]));
  s.summary = t.expand(plot.summary);
  for (const char* key : kCastKeys) s.cast.emplace_back(key, t.get(key));
  return s;
}

StoryTemplateStats story_template_stats() {
  StoryTemplateStats st;
  auto count = [&](std::string_view tmpl) {
    if (binds_only(tmpl)) return;
    ++st.sentence_templates;
    st.sentence_forms += story::count_forms(tmpl);
  };
  for (auto t : kOpenings) count(t);
  for (auto t : kEndings) count(t);
  for (const story::Plot* p : all_plots()) {
    ++st.plots;
    for (auto b : p->beats) count(b);
    count(p->summary);
  }
  return st;
}

PrepareStats prepare_builtin_stories(const StoriesOptions& opt) {
  WEFT_CHECK(opt.stories > 0 || opt.target_tokens > 0, "--tokens must be positive, got ", opt.target_tokens);
  WEFT_CHECK(opt.val_fraction >= 0 && opt.val_fraction < 1, "--val-fraction must be in [0, 1), got ", opt.val_fraction);
  const auto t0 = std::chrono::steady_clock::now();
  fs::create_directories(opt.out_dir);
  const SentencePieceOptions& sp = opt.sp;
  std::vector<std::string> notes;
  auto tok = setup_tokenizer(opt.tokenizer, opt.sp_model, sp, opt.out_dir, &notes, [&](std::ostream& corpus) {
    const int64_t n = opt.stories > 0 ? std::min<int64_t>(opt.stories, 10000) : 10000;
    for (int64_t i = 0; i < n; ++i) {
      Story s = generate_story(opt.seed, static_cast<uint64_t>(i));
      corpus << s.text << '\n' << s.summary << '\n';
    }
  });
  SplitWriter train(opt.out_dir, "train", tok->vocab_size(), tok->eot(), opt.shard_tokens);
  SplitWriter val(opt.out_dir, "val", tok->vocab_size(), tok->eot(), opt.shard_tokens);
  const std::string pairs_path = (fs::path(opt.out_dir) / "pairs.jsonl").string();
  std::ofstream pairs(pairs_path + ".tmp", std::ios::binary);
  WEFT_CHECK(pairs, "[prepare] cannot write ", pairs_path, ".tmp");

  const int64_t block = 2048;
  std::vector<Story> stories;
  std::vector<std::string> texts;
  int64_t i = 0;
  for (bool done = false; !done;) {  // generate and encode a block in parallel, then write it in order
    const int64_t n = opt.stories > 0 ? std::min(block, opt.stories - i) : block;
    stories.assign(static_cast<size_t>(n), Story{});
    texts.assign(static_cast<size_t>(n), std::string());
    std::string error;
#pragma omp parallel for schedule(dynamic, 32)
    for (int64_t k = 0; k < n; ++k) {
      try {
        stories[k] = generate_story(opt.seed, static_cast<uint64_t>(i + k));
        texts[k] = stories[k].text;
      } catch (const std::exception& e) {
#pragma omp critical(weft_story_error)
        if (error.empty()) error = e.what();
      }
    }
    WEFT_CHECK(error.empty(), error);
    std::vector<std::vector<int32_t>> ids = encode_documents(*tok, texts);
    for (int64_t k = 0; k < n && !done; ++k, ++i) {
      if (opt.stories <= 0 && train.tokens() >= opt.target_tokens) {
        done = true;
        break;
      }
      const bool is_val = is_validation_document(i, opt.val_fraction);
      (is_val ? val : train).add_document(ids[k]);
      pairs << "{\"id\": " << i << ", \"split\": \"" << (is_val ? "val" : "train") << "\", \"plot\": \""
            << stories[k].plot << "\", \"summary\": \"" << json_escape_string(stories[k].summary) << "\", \"story\": \""
            << json_escape_string(stories[k].text) << "\"}\n";
    }
    if (opt.stories > 0 && i >= opt.stories) done = true;
  }
  pairs.close();
  WEFT_CHECK(pairs.good(), "[prepare] writing ", pairs_path, " failed (disk full?)");
  fs::rename(pairs_path + ".tmp", pairs_path);
  PrepareStats st;
  st.train_tokens = train.tokens();
  st.val_tokens = val.tokens();
  st.documents = i;
  const std::vector<std::string> train_files = train.close(), val_files = val.close();
  save_tokenizer_description(*tok, opt.out_dir);
  const std::string origin = tokenizer_origin_json(opt.tokenizer, opt.sp_model, sp);
  write_data_summary(opt.out_dir, "builtin stories", *tok, st.documents, st.train_tokens, st.val_tokens, train_files,
                     val_files,
                     "\"seed\": " + std::to_string(opt.seed) + ",\n  \"stories\": " + std::to_string(st.documents) +
                         (origin.empty() ? "" : ",\n  " + origin));
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  st.notes = std::move(notes);
  return st;
}

}  // namespace weft::data
