// The template phenomena of the zero-shot minimal pairs: sentences in the stories' template language
// (story_template.h), most of them the stories' own phrasings, with one contrast variable. A Teller is drawn
// up to the contrast, copied, and the copies bind the contrast to the good and the bad form, so the two
// expansions use the same draws and differ in that one word.
//   subject-verb: was/were, is/are, want/wants with singular and plural subjects, half the templates with the
//                 longer form the good one (a length bias of the scores does not decide the accuracy)
//   pronoun:      child heroes only (a girl's or a boy's name, "girl" / "boy"), so the gender is given; the
//                 subject, object or reflexive pronoun of the hero vs the other gender's. Reflexives are
//                 ungrammatical with the wrong gender; a subject pronoun with no antecedent of its gender in
//                 the item is inconsistent (the item mentions no other person of that gender)
//   determiner:   a/an before an animal or toy phrase, half of them vowel-initial
#include <array>

#include "data/story_template.h"
#include "data/zero_shot.h"
#include "runtime/check.h"

namespace weft::data {

using story::Teller;

const char* const kTemplatePhenomena[3] = {"agreement_subject_verb", "agreement_pronoun", "agreement_determiner"};

namespace {

struct Contrast {
  const char* tmpl;  // binds {V} (subject-verb), {X} (pronoun) or {DET} (determiner)
  const char* good;
  const char* bad;
};

// Singular subjects first (was, is, want: the good form is the shorter), then plural ones (longer).
const Contrast kSubjectVerb[] = {
    {R"({H} {V} so {@happy}.)", "was", "were"},
    {R"({But then|After a while}, {H} looked {around|down|everywhere}. The {obj} {V} gone!)", "was", "were"},
    {R"(Once upon a time, there {V} {+@little} {hkind} named {H}.)", "was", "were"},
    {R"({H} felt {@sad}. "Where {V} my {obj}?" {he} cried.)", "is", "are"},
    {R"("No, it {V} my {obj}, not yours!" {H} said.)", "is", "are"},
    {R"("I {V} to play with it by myself!" {H} said.)", "want", "wants"},
    {R"({H} and {F} {V} {playing with {his} {obj}|having a picnic|flying a kite} {inplace}.)", "were", "was"},
    {R"({H} and {F} looked at the {obj}. They {V} {@happy}.)", "were", "was"},
    {R"({H}'s {legs|hands|knees} {V} shaking.)", "were", "was"},
    {R"({From that day on|After that}, {H} and {F} {V} {best friends|always together}.)", "were", "was"},
    {R"("We {V} {so happy|best friends}!" {H} and {F} said.)", "are", "is"},
    {R"("{^fhe} {V} to play {game1}," {H} said.)", "wants", "want"},
};

// {X} is one of the hero's pronouns; the column says which (subject, object, reflexive). No possessives: "Lily
// put it in his room" is grammatical (someone else's room).
struct PronounTemplate {
  const char* tmpl;
  int form;  // 0 he/she, 1 him/her, 2 his/her (bound as {his}), 3 himself/herself
};
const char* const kForms[4] = {"subject", "object", "possessive", "reflexive"};  // MinimalPair::detail
const PronounTemplate kPronoun[] = {
    {R"({H} was {+@little} {hkind}. {^X} had {+@color} {hat|coat|bag} and a {big|happy|kind} smile.)", 0},
    {R"(There was once {+@little} {hkind} called {H}. {^X} lived near the {place}.)", 0},
    {R"({H} had {+obj} that {X} {loved very much|took everywhere}.)", 0},
    {R"({H} felt {@sad}. "Oh no, I lost my {obj}!" {X} cried.)", 0},
    {R"({H} was so {@happy}. "Thank you!" {X} said.)", 0},
    {R"({H} made {@gift} all by {X}.)", 3},
    {R"({H} looked at {X} in the water and {smiled|laughed}.)", 3},
    {R"({H} was very proud of {X}.)", 3},
    {R"({H} felt {@scared}. {^X} {wanted to hide|did not know what to do}.)", 0},
    {R"({H} fell down, and {his} {p} helped {X} up.)", 1},
};

const char* pronoun(bool girl, int form) {
  static const std::array<const char*, 4> her = {"she", "her", "her", "herself"}, him = {"he", "him", "his", "himself"};
  return girl ? her[static_cast<size_t>(form)] : him[static_cast<size_t>(form)];
}

std::string pick_other(Teller& t, std::string_view list, const std::string& other) {
  std::string s;
  do s = std::string(t.pick(list));
  while (s == other);
  return s;
}

// A child hero (gender given by the name), a friend, a parent, a place and an object.
bool bind_child_cast(Teller& t) {
  const bool girl = t.roll(2) == 0;
  const std::string hero(t.pick(girl ? "girl" : "boy"));
  t.bind("H", hero);
  t.bind("hkind", girl ? "girl" : "boy");
  t.bind("he", pronoun(girl, 0));
  t.bind("his", pronoun(girl, 2));
  const bool fgirl = t.roll(2) == 0;
  t.bind("F", pick_other(t, fgirl ? "girl" : "boy", hero));
  t.bind("fhe", pronoun(fgirl, 0));
  t.expand("{=p:mom|dad|grandma|grandpa}");
  const bool inside = t.roll(2) == 0;
  const std::string place(t.pick(inside ? "place_in" : "place_at"));
  t.bind("place", place);
  t.bind("inplace", (inside ? "in the " : "at the ") + place);
  t.bind("obj", std::string(t.pick("toy")));
  t.bind("game1", std::string(t.pick("game")));
  return girl;
}

bool vowel_initial(std::string_view w) {
  const char c = static_cast<char>(w.empty() ? 'x' : w[0] | 0x20);
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

// A noun phrase that starts with a vowel (vowel == true) or a consonant, built from the story word lists.
std::string noun_phrase(Teller& t, bool animal, bool vowel) {
  if (animal) {
    if (vowel) return t.roll(3) == 0 ? std::string("owl") : (t.roll(2) ? "old " : "orange ") + std::string(t.pick("animal"));
    std::string adj;
    do adj = std::string(t.pick("animal_adj"));
    while (vowel_initial(adj));
    std::string noun;
    do noun = std::string(t.pick("animal"));
    while (vowel_initial(noun));
    return t.roll(2) ? adj + " " + noun : noun;
  }
  if (vowel) return t.roll(3) == 0 ? std::string("umbrella") : (t.roll(2) ? "old " : "orange ") + std::string(t.pick("toy"));
  std::string color;
  do color = std::string(t.pick("color"));
  while (vowel_initial(color));
  std::string noun;
  do noun = std::string(t.pick("toy"));
  while (vowel_initial(noun));
  return t.roll(2) ? color + " " + noun : noun;
}

struct DeterminerTemplate {
  const char* tmpl;
  bool animal;  // {NP} an animal phrase, else a toy phrase
};
const DeterminerTemplate kDeterminer[] = {
    {R"({One day|Then}, {H} saw {DET} {NP} sitting {alone|all by itself} {inplace}.)", true},
    {R"("Look, {DET} {NP}!" {H} {said|shouted}.)", true},
    {R"({H} had {DET} {NP} that {he} {loved very much|took everywhere}.)", false},
    {R"({H} got {DET} {NP} from {his} {p} for {his} birthday.)", false},
};

MinimalPair expand_both(const Teller& t, const char* tmpl, const char* key, const std::string& good,
                        const std::string& bad) {
  Teller tg = t, tb = t;
  tg.bind(key, good);
  tb.bind(key, bad);
  MinimalPair p;
  p.good = tg.expand(tmpl);
  p.bad = tb.expand(tmpl);
  WEFT_CHECK(p.good != p.bad, "[zero-shot] template gave no contrast: ", tmpl);
  return p;
}

}  // namespace

MinimalPair make_template_pair(uint64_t seed, int phenomenon, uint64_t item) {
  WEFT_CHECK(phenomenon >= 0 && phenomenon < 3, "[zero-shot] unknown template phenomenon ", phenomenon);
  Teller t(seed, kZeroShotIndexBase + (static_cast<uint64_t>(phenomenon) << 32) + item);
  const bool girl = bind_child_cast(t);
  MinimalPair p;
  if (phenomenon == 0) {
    const Contrast& c = kSubjectVerb[static_cast<size_t>(t.roll(static_cast<int>(std::size(kSubjectVerb))))];
    p = expand_both(t, c.tmpl, "V", c.good, c.bad);
    p.detail = std::string(c.good) + "/" + c.bad;
  } else if (phenomenon == 1) {
    const PronounTemplate& c = kPronoun[static_cast<size_t>(t.roll(static_cast<int>(std::size(kPronoun))))];
    p = expand_both(t, c.tmpl, "X", pronoun(girl, c.form), pronoun(!girl, c.form));
    p.detail = kForms[c.form];
  } else {
    const DeterminerTemplate& c = kDeterminer[static_cast<size_t>(t.roll(static_cast<int>(std::size(kDeterminer))))];
    const bool vowel = t.roll(2) == 0;
    t.bind("NP", noun_phrase(t, c.animal, vowel));
    p = expand_both(t, c.tmpl, "DET", vowel ? "an" : "a", vowel ? "a" : "an");
    p.detail = vowel ? "an" : "a";
  }
  p.phenomenon = kTemplatePhenomena[phenomenon];
  return p;
}

}  // namespace weft::data
