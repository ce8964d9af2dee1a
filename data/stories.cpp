// Story generator and the `weft prepare --builtin stories` writer.
#include "data/stories.h"

#include <chrono>
#include <filesystem>
#include <fstream>

#include "data/jsonl.h"
#include "data/shard.h"
#include "data/tokenizer.h"
#include "runtime/check.h"
#include "runtime/rng.h"

namespace weft::data {

namespace {

using Words = std::vector<std::string>;

const Words kGirls = {"Lily", "Mia", "Emma", "Sara", "Lucy", "Anna", "Zoe", "Ella", "Rosa", "Nina", "Ivy", "Amy"};
const Words kBoys = {"Tom", "Ben", "Max", "Sam", "Leo", "Jack", "Tim", "Finn", "Noah", "Eli", "Owen", "Dan"};
const Words kAnimals = {"dog", "cat", "bunny", "bird", "duck", "frog", "bear", "fox", "mouse", "puppy", "kitten", "owl"};
const Words kPlaces = {"park", "forest", "beach", "garden", "farm", "river", "hill", "meadow", "playground", "lake",
                       "town square", "backyard"};
const Words kObjects = {"ball", "kite", "red box", "toy car", "shiny stone", "blue hat", "book", "little boat",
                        "teddy bear", "yellow bucket", "drum", "paper crown"};
const Words kFoods = {"cake", "cookies", "apple pie", "bread", "soup", "pancakes", "muffins", "a sandwich"};
const Words kHappy = {"happy", "glad", "proud", "excited", "cheerful", "joyful"};
const Words kSad = {"sad", "worried", "upset", "scared", "lonely", "unhappy"};
const Words kAdj = {"big", "small", "old", "bright", "soft", "tall", "quiet", "sunny", "green", "funny"};
const Words kWeather = {"sunny", "windy", "warm", "cold", "cloudy", "bright"};

class Teller {
 public:
  Teller(uint64_t seed, uint64_t index)
      : rng_(RngState{seed ^ (index * 0x9E3779B97F4A7C15ull), static_cast<uint32_t>(index), 0}) {}
  const std::string& pick(const Words& w) { return w[rng_.next_u64() % w.size()]; }
  int roll(int n) { return static_cast<int>(rng_.next_u64() % static_cast<uint64_t>(n)); }
  template <class... S>
  std::string one(const S&... options) {
    const std::string opts[] = {std::string(options)...};
    return opts[roll(static_cast<int>(sizeof...(options)))];
  }

 private:
  Rng rng_;
};

struct Cast {
  std::string hero, he, his, him, friend_name, animal, place, object;
};

Cast cast_for(Teller& t) {
  Cast c;
  bool girl = t.roll(2) == 0;
  c.hero = girl ? t.pick(kGirls) : t.pick(kBoys);
  c.he = girl ? "she" : "he";
  c.his = girl ? "her" : "his";
  c.him = girl ? "her" : "him";
  do c.friend_name = t.roll(2) ? t.pick(kGirls) : t.pick(kBoys);
  while (c.friend_name == c.hero);
  c.animal = t.pick(kAnimals);
  c.place = t.pick(kPlaces);
  c.object = t.pick(kObjects);
  return c;
}

std::string cap(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

std::string opening(Teller& t, const Cast& c) {
  switch (t.roll(4)) {
    case 0: return "Once upon a time, there was a little " + std::string(c.he == "she" ? "girl" : "boy") + " named " + c.hero + ". ";
    case 1: return "One " + t.pick(kWeather) + " day, " + c.hero + " went to the " + c.place + ". ";
    case 2: return c.hero + " loved to play in the " + c.place + ". ";
    default: return "There was a " + t.pick(kAdj) + " " + c.place + " near " + c.hero + "'s house. ";
  }
}

Story lost_and_found(Teller& t, const Cast& c) {
  std::string s = opening(t, c);
  s += c.hero + " had a " + c.object + " that " + c.he + " loved very much. ";
  s += cap(c.he) + " took the " + c.object + " to the " + c.place + " to play. ";
  s += std::string(t.one("But then", "Suddenly,", "After a while,")) + " the " + c.object + " was gone! ";
  s += c.hero + " felt " + t.pick(kSad) + ". \"Where is my " + c.object + "?\" " + c.he + " cried. ";
  s += c.friend_name + " came to help. They looked under the trees and behind the rocks. ";
  s += "At last, " + std::string(t.one("a ", "a little ", "a friendly ")) + c.animal + " came out with the " + c.object + ". ";
  s += c.hero + " was so " + t.pick(kHappy) + ". \"Thank you!\" " + c.he + " said, and gave the " + c.animal + " a hug.";
  return {c.hero + " lost " + c.his + " " + c.object + " at the " + c.place + " and a " + c.animal + " found it.", s};
}

Story sharing(Teller& t, const Cast& c) {
  std::string s = opening(t, c);
  s += c.hero + " had a new " + c.object + ". " + c.friend_name + " wanted to play with it too. ";
  s += "At first, " + c.hero + " did not want to share. \"It is mine,\" " + c.he + " said. ";
  s += c.friend_name + " felt " + t.pick(kSad) + " and sat alone. ";
  s += c.hero + " saw " + c.friend_name + " and thought about it. " + std::string(t.one("Sharing is kind", "Friends share", "Playing together is more fun")) + ", " + c.he + " thought. ";
  s += cap(c.he) + " gave the " + c.object + " to " + c.friend_name + ". They played together all day in the " + c.place + ". ";
  s += "Both of them were " + t.pick(kHappy) + ".";
  return {c.hero + " learned to share " + c.his + " " + c.object + " with " + c.friend_name + ".", s};
}

Story storm(Teller& t, const Cast& c) {
  std::string s = opening(t, c);
  s += c.hero + " and " + c.friend_name + " were playing with a " + c.object + " when the sky became dark. ";
  s += std::string(t.one("A big storm came.", "The wind began to blow hard.", "Rain started to fall.")) + " ";
  s += c.friend_name + " was " + t.pick(kSad) + ". \"What do we do?\" " + c.friend_name + " asked. ";
  s += c.hero + " said, \"Let us go to the " + std::string(t.one("old barn", "big tree", "little house", "cave")) + ".\" ";
  s += "They ran and waited there until the storm was over. ";
  s += "When the sun came back, they saw a rainbow over the " + c.place + ". They smiled and went home " + t.pick(kHappy) + ".";
  return {c.hero + " and " + c.friend_name + " hid from a storm and saw a rainbow.", s};
}

Story new_friend(Teller& t, const Cast& c) {
  std::string s = opening(t, c);
  s += "One day, " + c.hero + " saw a " + t.pick(kAdj) + " " + c.animal + " sitting alone. ";
  s += "The " + c.animal + " looked " + t.pick(kSad) + ". ";
  s += c.hero + " said, \"Hello! Do you want to play with me?\" ";
  s += "The " + c.animal + " " + std::string(t.one("nodded", "jumped up", "wagged its tail", "made a happy sound")) + ". ";
  s += "They played with " + c.his + " " + c.object + " in the " + c.place + " until the sun went down. ";
  s += "From that day on, " + c.hero + " and the " + c.animal + " were best friends.";
  return {c.hero + " made friends with a lonely " + c.animal + " in the " + c.place + ".", s};
}

Story race(Teller& t, const Cast& c) {
  std::string s = opening(t, c);
  s += c.hero + " and " + c.friend_name + " wanted to have a race to the " + std::string(t.one("big tree", "river", "fence", "top of the hill")) + ". ";
  s += "\"Ready, set, go!\" said " + c.friend_name + ". They ran very fast. ";
  s += "On the way, " + c.friend_name + " fell down and hurt a knee. ";
  s += c.hero + " stopped running and helped " + c.friend_name + " get up. ";
  s += "They walked to the end together, holding hands. ";
  s += "\"You are a good friend,\" said " + c.friend_name + ". " + c.hero + " felt " + t.pick(kHappy) + ".";
  return {c.hero + " stopped a race to help " + c.friend_name + " after a fall.", s};
}

Story baking(Teller& t, const Cast& c) {
  const std::string food = t.pick(kFoods);
  std::string s = opening(t, c);
  s += c.hero + " wanted to make " + food + " with " + c.his + " mom. ";
  s += "They put flour, milk and eggs in a big bowl. " + c.hero + " mixed it with a spoon. ";
  s += std::string(t.one("Oops!", "Oh no!", "Uh oh!")) + " Some flour fell on the floor, and " + c.hero + " laughed. ";
  s += "Soon the " + food + " smelled very good. ";
  s += c.hero + " shared the " + food + " with " + c.friend_name + " and the " + c.animal + ". ";
  s += "Everyone said it was the best " + food + " ever.";
  return {c.hero + " made " + food + " with " + c.his + " mom and shared it.", s};
}

Story help_animal(Teller& t, const Cast& c) {
  std::string s = opening(t, c);
  s += "In the " + c.place + ", " + c.hero + " heard a small sound. It was a " + c.animal + " stuck in a " +
       std::string(t.one("bush", "hole", "fence", "pile of leaves")) + ". ";
  s += "The " + c.animal + " was " + t.pick(kSad) + " and could not get out. ";
  s += c.hero + " called " + c.friend_name + ", and together they pulled very gently. ";
  s += "The " + c.animal + " was free! It " + std::string(t.one("ran in a circle", "jumped with joy", "licked " + c.hero + "'s hand")) + ". ";
  s += c.hero + " felt " + t.pick(kHappy) + " because " + c.he + " helped.";
  return {c.hero + " and " + c.friend_name + " helped a " + c.animal + " that was stuck.", s};
}

Story fear(Teller& t, const Cast& c) {
  const std::string thing = t.one("the dark", "the big slide", "the deep water", "the loud thunder");
  std::string s = opening(t, c);
  s += c.hero + " was afraid of " + thing + ". ";
  s += "Every time " + c.he + " saw it, " + c.he + " felt " + t.pick(kSad) + ". ";
  s += c.friend_name + " said, \"Do not worry. I will stay with you.\" ";
  s += c.hero + " held " + c.his + " " + c.object + " and took a deep breath. ";
  s += cap(c.he) + " tried again, one small step at a time. ";
  s += "It was not so bad! " + c.hero + " was brave, and " + c.he + " felt " + t.pick(kHappy) + ".";
  return {c.hero + " was afraid of " + thing + " but became brave with " + c.friend_name + "'s help.", s};
}

}  // namespace

Story generate_story(uint64_t seed, uint64_t index) {
  Teller t(seed, index);
  Cast c = cast_for(t);
  switch (t.roll(8)) {
    case 0: return lost_and_found(t, c);
    case 1: return sharing(t, c);
    case 2: return storm(t, c);
    case 3: return new_friend(t, c);
    case 4: return race(t, c);
    case 5: return baking(t, c);
    case 6: return help_animal(t, c);
    default: return fear(t, c);
  }
}

PrepareStats prepare_builtin_stories(const std::string& out_dir, uint64_t seed, int64_t target_tokens) {
  WEFT_CHECK(target_tokens > 0, "--tokens must be positive, got ", target_tokens);
  auto t0 = std::chrono::steady_clock::now();
  std::filesystem::create_directories(out_dir);
  auto tok = make_byte_tokenizer();
  std::vector<int32_t> train, val;
  std::ofstream pairs(out_dir + "/pairs.jsonl");
  WEFT_CHECK(pairs, "[prepare] cannot write ", out_dir, "/pairs.jsonl");
  PrepareStats st;
  for (uint64_t i = 0; static_cast<int64_t>(train.size()) < target_tokens; ++i) {
    Story s = generate_story(seed, i);
    std::vector<int32_t>& dst = i % 20 == 19 ? val : train;
    std::vector<int32_t> ids = tok->encode(s.text);
    dst.insert(dst.end(), ids.begin(), ids.end());
    dst.push_back(tok->eot());
    pairs << "{\"summary\": \"" << json_escape_string(s.summary) << "\", \"story\": \"" << json_escape_string(s.text)
          << "\"}\n";
    ++st.documents;
  }
  pairs.close();
  WEFT_CHECK(pairs.good(), "[prepare] writing ", out_dir, "/pairs.jsonl failed (disk full?)");
  write_shard(out_dir + "/train.bin", train, tok->vocab_size());
  write_shard(out_dir + "/val.bin", val, tok->vocab_size());
  save_tokenizer_description(*tok, out_dir);
  st.train_tokens = static_cast<int64_t>(train.size());
  st.val_tokens = static_cast<int64_t>(val.size());
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

}  // namespace weft::data
