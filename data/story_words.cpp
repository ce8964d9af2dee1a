// Word lists of the built-in stories: simple vocabulary a small model can learn, grouped by role.
// Lists used in "a/an" positions avoid words whose article the first letter does not predict.
#include <string_view>
#include <utility>

#include "data/story_template.h"
#include "runtime/check.h"

namespace weft::data::story {

namespace {

const std::pair<std::string_view, Words> kLists[] = {
    {"girl", {"Lily",  "Mia",   "Emma",   "Sara",  "Lucy",  "Anna", "Zoe",    "Ella",   "Rosa",   "Nina",
              "Ivy",   "Amy",   "Sophie", "Chloe", "Grace", "Ruby", "Hannah", "Daisy",  "Molly",  "Clara",
              "Alice", "Maya",  "Julia",  "Kate",  "Rose",  "Leah", "Nora",   "Olivia", "Stella", "Hazel",
              "Ada",   "Bella", "Eva",    "Jenny", "Kim",   "Luna", "May",    "Pia",    "Tara",   "Wendy"}},
    {"boy", {"Tom",   "Ben",   "Max",     "Sam",   "Leo",   "Jack",   "Tim",    "Finn",  "Noah",   "Eli",
             "Owen",  "Dan",   "Jake",    "Luke",  "Adam",  "Oliver", "Henry",  "Oscar", "Peter",  "Ryan",
             "Alex",  "Billy", "Charlie", "David", "Ethan", "Felix",  "George", "Harry", "Ian",    "Joe",
             "Kevin", "Liam",  "Mark",    "Nick",  "Paul",  "Ron",    "Simon",  "Theo",  "Victor", "Will"}},
    {"pet_name",
     {"Spot",    "Buddy",  "Fluffy", "Coco",  "Pip",     "Whiskers", "Rex",    "Bubbles", "Sunny", "Patch",
      "Biscuit", "Pepper", "Snowy",  "Ziggy", "Nibbles", "Shadow",   "Ginger", "Boots",   "Tiny",  "Button"}},
    // Kinds an animal hero can be ("a little fox named Pip").
    {"hero_animal",
     {"bunny", "bear", "fox", "mouse", "duck", "kitten", "puppy", "squirrel", "owl", "turtle", "frog", "pig", "lamb",
      "hedgehog", "deer", "raccoon"}},
    {"animal",
     {"dog", "cat", "bird", "puppy", "kitten", "bunny", "squirrel", "duckling", "frog", "owl", "mouse", "hedgehog",
      "lamb", "goat", "turtle"}},
    {"place_in",
     {"forest", "garden", "woods", "meadow", "backyard", "field", "playground", "orchard", "valley", "town"}},
    {"place_at", {"park", "beach", "lake", "farm", "zoo", "pond", "river", "campsite"}},
    {"toy", {"ball",       "kite",      "box",     "toy car",      "stone",   "hat",   "book",   "boat",
             "teddy bear", "bucket",    "drum",    "crown",        "doll",    "robot", "train",  "puzzle",
             "balloon",    "jump rope", "yo-yo",   "spinning top", "whistle", "shell", "marble", "scarf",
             "umbrella",   "backpack",  "blanket", "cup",          "wagon",   "sled"}},
    {"color",
     {"red", "blue", "green", "yellow", "pink", "purple", "orange", "white", "black", "brown", "golden", "silver"}},
    {"little",
     {"little", "small", "young", "kind", "curious", "happy", "brave", "clever", "cheerful", "shy", "friendly",
      "playful"}},
    {"adj", {"big", "small", "tiny", "old", "new", "shiny", "soft", "round", "funny", "pretty", "tall", "bright"}},
    {"food",
     {"cake", "cookies", "apple pie", "bread", "soup", "pancakes", "muffins", "sandwiches", "cupcakes", "pizza",
      "carrot cake", "banana bread", "berry tarts", "oatmeal"}},
    {"weather", {"sunny", "windy", "warm", "cold", "cloudy", "bright", "rainy", "snowy", "foggy", "quiet"}},
    {"time", {"morning", "afternoon", "evening", "day", "Saturday", "Sunday"}},
    {"happy", {"happy", "glad", "proud", "excited", "cheerful", "joyful", "delighted", "thrilled", "pleased", "calm"}},
    {"sad", {"sad", "worried", "upset", "scared", "lonely", "unhappy", "nervous", "grumpy", "confused", "frustrated"}},
    {"scared", {"scared", "afraid", "nervous", "frightened", "worried"}},
    {"animal_adj", {"little", "small", "tiny", "fluffy", "young", "old", "funny", "brown", "gray", "spotted"}},
    {"move", {"ran", "walked", "skipped", "hopped", "hurried", "raced", "wandered", "went"}},
    {"say", {"said", "shouted", "whispered", "called", "laughed", "smiled"}},
    {"spot_home",
     {"under the bed", "behind the couch", "in the toy box", "inside a boot", "under the table", "behind the door",
      "in the laundry basket", "on the top shelf"}},
    {"spot_out",
     {"under the slide", "behind a tree", "in the tall grass", "next to the pond", "under a big leaf", "behind a rock",
      "under a bench", "inside a hollow log"}},
    {"sound",
     {"a loud bang", "a soft squeak", "a tap-tap-tap", "a funny scratching", "a low hoot", "a little meow", "a splash",
      "a creak", "a tiny whistle", "a thump"}},
    {"gift",
     {"a drawing", "a flower", "a card", "a necklace of beads", "a painted rock", "a little song", "a paper star",
      "a clay cup", "a bracelet", "a poem"}},
    {"tree", {"oak tree", "apple tree", "pine tree", "willow", "maple tree", "cherry tree"}},
    {"sky",
     {"the stars came out", "the moon was big and round", "the sky turned pink", "the birds sang", "the sun went down",
      "a soft wind blew"}},
    {"game",
     {"tag", "hide and seek", "catch", "hopscotch", "a ball game", "pretend pirates", "a board game", "jump rope"}},
    {"fruit", {"apples", "pears", "berries", "plums", "oranges", "cherries", "grapes"}},
    {"plant", {"sunflower", "tomato plant", "bean plant", "pumpkin", "rose bush", "carrot", "strawberry plant"}},
    {"treat", {"a cookie", "an apple", "some milk", "a slice of cake", "a cup of cocoa", "a warm bun"}},
};

}  // namespace

const Words& word_list(std::string_view name) {
  for (const auto& [n, w] : kLists)
    if (n == name) return w;
  WEFT_FAIL("[stories] unknown word list '@", name, "'");
}

}  // namespace weft::data::story
