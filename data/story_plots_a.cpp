// Plots of everyday life: a lost toy, sharing, baking, a broken thing, a birthday, a garden, a new skill,
// an argument, cleaning up, helping a neighbour.
#include "data/story_plots.h"

namespace weft::data::story {

const std::vector<Plot>& plots_everyday() {
  static const std::vector<Plot> plots = {
      {"lost_toy",
       {R"({=moral:that friends help each other|to take good care of {his} things|never to give up|that it helps to )"
        R"(ask for help})",
        R"({H} had {+obj} that {he} {loved very much|took everywhere|got from {his} {p} for {his} birthday}.)",
        R"({One day|One {@weather} {@time}|That morning}, {he} took the {obj} to the {place} to {play|show it to )"
        R"({F}|play with {F}}.)",
        R"({But then|After a while|When it was time to go home}, {H} looked {around|down|everywhere}. The {obj} was )"
        R"(gone!)",
        R"({H} felt {@sad}. "{Where is my {obj}?|Oh no, I lost my {obj}!|Has anyone seen my {obj}?}" {he} )"
        R"({cried|said|called}.)",
        R"({F} {came to help|ran over}. "{Do not worry|Don't be sad}. {We will find it together|I will help you )"
        R"(look}," {fhe} said.)",
        R"(They looked {under the trees|behind the bushes|near the water|in every corner}{| for a long time}, but )"
        R"(the {obj} was not there.)",
        R"({{=finder:{+A}}Then {+A} {came out of the bushes|ran up to them|hopped over} with the {obj} in its )"
        R"(mouth!|{=finder:{F}}Then {F} pointed and shouted, "Look! There it is, {@spot_out}!"|{=finder:{his} {p}}At )"
        R"(last, {H}'s {p} came and found the {obj} {@spot_out}.})",
        R"({H} was so {@happy}. "Thank you!" {he} said{| and gave {finder} a big hug}.)"},
       R"({{H} lost {his} {obj} {inplace}, and {finder} found it.|{^finder} helped {H} find {his} lost {obj}.|{H} )"
       R"(could not find {his} {obj} {inplace} until {finder} found it.})"},

      {"sharing",
       {R"({=moral:that sharing makes everyone happy|that friends share|that playing together is more fun than )"
        R"(playing alone})",
        R"({H} {got|had} a new {obj}{| from {his} {p}}. It was the best {obj} {he} had ever seen.)",
        R"({F} {saw it and|came over and} asked, "{Can I play with your {obj}?|May I try your {obj}, please?|Will )"
        R"(you share your {obj} with me?}")",
        R"({At first|But}, {H} did not want to share. "{No, it is mine!|It is my {obj}, not yours!|I want to play )"
        R"(with it by myself!}" {he} said.)",
        R"({F} felt {@sad} and {sat down alone|walked away slowly|looked at the ground}.)",
        R"({H} {played with the {obj}|looked at {F}}, but {he} did not feel {@happy}. {Something felt wrong.|Playing )"
        R"(alone was not fun.|{^he} missed {his} friend.})",
        R"({Then|After a while|So}, {H} {walked|ran} to {F} and said, "{I am sorry. Let's play together!|Here, you )"
        R"(can have a turn.|We can share the {obj}.}")",
        R"({F} {smiled|laughed|jumped up}. They {played with the {obj}|took turns with the {obj}} {inplace} {until )"
        R"(it was time to go home|all afternoon|all day}.)"},
       R"({{H} did not want to share {his} {obj} with {F} at first, but then {he} did.|{H} learned to share {his} )"
       R"(new {obj} with {F}.})"},

      {"baking",
       {R"({=moral:that making things together is fun|that sharing food makes it taste better|that little mistakes )"
        R"(are okay}{=food:{@food}})",
        R"({H} wanted to make {food} {with {his} {p}|for {F}|for a picnic}.)",
        R"({^he} and {his} {p} put {flour, milk and eggs|flour, butter and sugar|flour and water} in a )"
        R"({big|large|round} bowl. {H} {mixed it with a spoon|stirred and stirred|helped pour everything in}.)",
        R"({Oops!|Oh no!|Uh oh!} {Some flour fell on the floor|A little egg fell on {his} shirt|{H} got flour on )"
        R"({his} nose}, and {everyone laughed|{H} giggled|{his} {p} smiled}.)",
        R"({They put the {food} in the oven and {cleaned up the kitchen|waited|sang a song}.|The {food} baked in the )"
        R"(hot oven {while {H} drew a picture|for a long time}.})",
        R"({Soon|At last|After a while}, the {food} {smelled|looked} {very good|wonderful|yummy}{|, and the whole )"
        R"(house smelled sweet}.)",
        R"({H} {shared the {food} with {F}|gave some {food} to {F} and {AN}|took the {food} to the {place} for a )"
        R"(picnic with {F}}.)",
        R"("{This is the best {food} ever!|Yum!|Can we make more tomorrow?}" said {F}. {H} felt {@happy}.)"},
       R"({{H} made {food} with {his} {p} and shared it with {F}.|{H} and {his} {p} baked {food}, and {F} loved it.})"},

      {"broken",
       {R"({=moral:that telling the truth is always best|that it is okay to make mistakes|that saying sorry )"
        R"(helps}{=thing:{@color} vase|favorite cup|toy train|{@color} lamp|clock|picture frame})",
        R"({H} was {playing with {+obj}|running around|dancing} in the {living room|kitchen|house} {even though )"
        R"({his} {p} said not to|on a {@weather} {@time}}.)",
        R"({Crash!|Bang!|Oh no!} {^he} {bumped into|knocked over} {his} {p}'s {thing}, and it broke into )"
        R"({many|two|little} pieces.)",
        R"({H} felt {@scared}. {^he} {wanted to hide|thought about hiding the pieces|did not know what to do}.)",
        R"({Then|But then|After a moment}, {his} {p} {came in|walked into the room} and asked, "{What happened?|What )"
        R"(was that noise?|Is everything okay?}")",
        R"({H} {looked at the floor|took a deep breath|felt {his} face get hot}. "{I broke it. I am sorry|It was me. )"
        R"(I am very sorry|I did not mean to break it}," {he} said.)",
        R"({^his} {p} {gave {him} a hug|smiled softly|knelt down}. "{Thank you for telling the truth|I am glad you )"
        R"(told me|Accidents happen}," {phe} said.)",
        R"({Together, they {glued|fixed} the {thing}|They cleaned up the pieces together, and {phe} said they would )"
        R"(get a new one}{|, and {H} felt much better}.)"},
       R"({{H} broke {his} {p}'s {thing} and told the truth about it.|After {H} broke the {thing}, {he} said sorry )"
       R"(to {his} {p}.})"},

      {"birthday",
       {R"({=moral:that the best gifts come from the heart|that surprises make people happy|that friends make )"
        R"(birthdays special}{=who,whohe,whohim,whohis:{F},{fhe},{fhim},{fhis}|{his} )"
        R"({p},{phe},{phim},{phis}}{=present:{@gift}})",
        R"({It was {who}'s birthday {soon|tomorrow|on Saturday}.|Tomorrow was a special day: {who}'s birthday!} {H} )"
        R"(wanted to {make {whohim} happy|give {whohim} a surprise|do something special}.)",
        R"({^he} did not have {much|any} money{, so {he} decided to make something|, but {he} had an idea}. {^he} )"
        R"(made {present} {all by {self}|with crayons and glue|very carefully}.)",
        R"({H} also {helped make a cake|hung balloons|drew a big sign that said "Happy Birthday"}.)",
        R"(When {who} {came home|came in|opened the door}, everyone shouted, "{Surprise!|Happy birthday!|Surprise! )"
        R"(Happy birthday!}")",
        R"({^whohe} {gasped|laughed|clapped {whohis} hands}{| and smiled a big smile}. {H} gave {whohim} {present}.)",
        R"("{This is the best gift ever!|I love it!|Thank you so much!}" {whohe} said, and gave {H} a big hug.)"},
       R"({{H} made {present} for {who}'s birthday and gave {whohim} a surprise.|For {who}'s birthday, {H} planned )"
       R"(a surprise and made {present}.})"},

      {"garden",
       {R"({=moral:that good things take time|that patience pays off|that little things can grow )"
        R"(big}{=plant:{@plant}})",
        R"({H}'s {p} gave {him} {a little seed|a small bag of seeds|a tiny seed in a paper cup}. "{This will grow )"
        R"(into a {plant}|Plant it and see what happens|If you take care of it, it will grow}," {phe} said.)",
        R"({H} {dug a hole|made a little hole} {in the garden|in a pot by the window|in the backyard} and put the )"
        R"(seed in. {^he} covered it with soil and gave it some water.)",
        R"({Every day|Each morning|Day after day}, {H} {watered the seed|looked at the soil|checked on the seed}. )"
        R"({But nothing happened.|Nothing grew.|The soil was just brown.})",
        R"("{Why is it not growing?" {H} asked.|When will it grow?" {H} asked.|Maybe it does not like me," {H} )"
        R"(sighed.} "{Be patient|Good things take time|Wait and see}," said {his} {p}.)",
        R"({Then one morning|One {@weather} morning|At last}, {H} saw a tiny green {leaf|sprout|shoot} coming out of )"
        R"(the soil! {^he} {jumped up and down|shouted with joy|ran to tell {his} {p}}.)",
        R"({The little plant grew and grew.|Weeks went by, and the plant grew tall.} {Soon it was a big {plant}.|By )"
        R"(summer it was a beautiful {plant}.|It became the tallest {plant} {H} had ever seen.})",
        R"({H} {showed it to {F}|drew a picture of it|sat next to it every day}, and {he} felt {@happy}.)"},
       R"({{H} planted a seed, waited patiently, and it grew into a {plant}.|{H} learned to be patient while {his} )"
       R"(seed grew into a {plant}.})"},

      {"new_skill",
       {R"({=moral:that practice makes things easier|never to give up|that everyone learns step by )"
        R"(step}{=skill,skilling:ride a bike,riding a bike|swim,swimming|jump rope,jumping )"
        R"(rope|whistle,whistling|climb a tree,climbing trees|skate,skating|fly a kite,flying kites|play the )"
        R"(drum,playing the drum|read a book,reading|tie {his} shoes,tying shoes})",
        R"({H} wanted to {learn to|be able to} {skill}{| like {F}| like the big kids}.)",
        R"({The first time|On the first day}, {he} {tried and fell down|could not do it|got it all wrong}. "{This is )"
        R"(too hard!|I will never learn!|I give up!}" {he} {said|cried}.)",
        R"({^his} {p} said, "{Everyone falls at first|You just need practice|Try again tomorrow}. {I will help )"
        R"(you.|Let's try one more time.|Do not give up.}")",
        R"({So {H} practiced every day.|Day after day, {H} tried again.|{H} practiced in the {morning|evening} with )"
        R"({his} {p}.} {Sometimes {he} felt {@sad}, but {he} kept trying.|{^he} got a little better each time.})",
        R"({Then one day|One {@weather} {@time}|At last}, {H} could {skill}! {^he} {shouted|laughed|could not stop )"
        R"(smiling}. "{Look at me!|I did it!|I can do it!}")",
        R"({^his} {p} {clapped|cheered|gave {him} a high five}{| and {F} cheered too}. {H} was very {@happy}. {^he} )"
        R"(loved {skilling} now.)"},
       R"({{H} learned to {skill} by practicing every day.|At first {H} could not {skill}, but {he} practiced and )"
       R"(learned.})"},

      {"argument",
       {R"({=moral:that saying sorry fixes things|that friends can disagree and still be friends|that taking turns )"
        R"(is fair})",
        R"({H} and {F} {were playing|met} {inplace}. {H} wanted to play {game1}, but {F} wanted to play {game2}.)",
        R"("{We always play your game!|Your game is boring!|I want to choose today!}" {said {F}|{F} shouted}. "{No, )"
        R"(my game is better!|But I want to play {game1}!|You never listen!}" said {H}.)",
        R"(They {argued|shouted at each other|did not agree}, and {F} {went home|walked away|sat on the other side )"
        R"(of the {place}}. {Both of them felt {@sad}.|Nobody was having fun.})",
        R"({H} sat alone {for a while|and thought|with {his} {obj}}. {^he} {missed {F}|did not like being )"
        R"(angry|remembered all the fun they had}.)",
        R"({Then|So|At last}, {H} {went to|walked over to|found} {F}. "{I am sorry|I was not kind|Let's not fight}," )"
        R"({he} said. "{We can play your game first.|Let's take turns.|We can play both games.}")",
        R"({F} {smiled|nodded|said sorry too}. They played {game2} first and then {game1}{, and they laughed a lot| )"
        R"(until the sun went down}.)"},
       R"({{H} and {F} argued about what game to play, then said sorry and took turns.|After a fight about {game1} )"
       R"(and {game2}, {H} and {F} made up.})"},

      {"cleanup",
       {R"({=moral:that work can be fun|that cleaning up is part of playing|that it feels good to finish a job})",
        R"({H}'s room was {a big mess|very messy|full of toys}. There were {toys|clothes|books|blocks} )"
        R"({everywhere|on the floor|on the bed}.)",
        R"({^his} {p} said, "{Please clean up your room|It is time to clean up|Your room needs tidying} {before )"
        R"(dinner|before bed|before we go to the {place}}.")",
        R"({H} did not want to. "{Cleaning is boring!|But I want to play!|Do I have to?}" {he} said.)",
        R"({Then {he} had an idea|{^he} thought for a moment}. {^he} {made it a game|pretended to be a robot that )"
        R"(picks things up|sang a song while {he} worked|raced the clock}!)",
        R"({^he} put the {books on the shelf|toys in the box|clothes in the basket} {one by one|very fast|while )"
        R"(singing}. It was {fun|not so bad|like a game}!)",
        R"({{^@spot_home}|In the corner}, {H} found {his} {obj} that {he} had lost {a long time ago|last week|many )"
        R"(days ago}! "{There you are!|I found it!|I missed you!}" {he} said.)",
        R"({When {his} {p} came back|Soon}, the room was clean. {^his} {p} said, "{Good job!|I am so proud of )"
        R"(you!|What a tidy room!}" {H} felt {@happy}.)"},
       R"({{H} turned cleaning {his} messy room into a game and found {his} lost {obj}.|While cleaning up {his} )"
       R"(room, {H} found {his} {obj}.})"},

      {"neighbor",
       {R"({=moral:that helping others feels good|that small kind acts matter|that kindness comes back to )"
        R"(you}{=nb,nbhe,nbhis,nbhim:old Mr. Brown,he,his,him|old Mrs. Green,she,her,her|Grandpa Joe,he,his,him|Miss )"
        R"(Rose,she,her,her}{=treat:{@treat}})",
        R"({H} lived next to {nb}. {^nbhe} was very old and walked {slowly|with a cane}.)",
        R"({One {@weather} {@time}|One day}, {H} saw {nb} carrying {heavy bags|a big box|a basket of {@fruit}} {up )"
        R"(the hill|to {nbhis} house|across the street}.)",
        R"({It was too heavy|It was hard for {nbhim}|{^nbhe} had to stop and rest}. {^nbhe} looked {tired|{@sad}}.)",
        R"({H} ran over and said, "{Can I help you?|Let me carry that!|I can help!}" {^nb} smiled. "{Thank you, )"
        R"(dear|That is very kind|Oh, thank you}," {nbhe} said.)",
        R"({H} carried it {all the way to {nbhis} door|to {nbhis} kitchen} {even though it was heavy|with a big )"
        R"(smile}.)",
        R"({To say thank you|As a thank you}, {nb} gave {H} {treat}{| and told {him} a story about when {nbhe} was )"
        R"(little}.)",
        R"({H} {went home|skipped home|ran home} feeling {@happy}. {^he} {decided to help {nb} every week|told )"
        R"({his} {p} all about it}.)"},
       R"({{H} helped {nb} carry something heavy, and {nbhe} thanked {him} with {treat}.|{H} was kind to {nb} and )"
       R"(helped {nbhim} carry a heavy load.})"},
  };
  return plots;
}

}  // namespace weft::data::story
