// Plots of adventures and feelings: a storm, an animal friend, a race, a rescue, a fear overcome, getting
// lost, a noise in the night, building something again, a trip.
#include "data/story_plots.h"

namespace weft::data::story {

const std::vector<Plot>& plots_adventure() {
  static const std::vector<Plot> plots = {
      {"storm",
       {R"({=moral:that storms do not last forever|that it is good to stay calm|that a friend makes scary things )"
        R"(smaller}{=tr:{@tree}}{=shelter,inshelter:an old barn,in an old barn|a big {tr},under a big {tr}|a little )"
        R"(shed,in a little shed|a cave,in a cave|the bus stop,at the bus stop|a wooden bridge,under a wooden bridge})",
        R"({H} and {F} were {playing with {his} {obj}|having a picnic|flying a kite} {inplace}.)",
        R"({Suddenly|Then|All at once}, the sky {became|turned} {dark|gray|black}. {A big storm was coming.|The wind )"
        R"(began to blow hard.|Big drops of rain began to fall.|Thunder rumbled far away.})",
        R"({F} was {@scared}. "{What do we do?|I want to go home!|I do not like storms!}" {fhe} {cried|said}.)",
        R"({H} {took {F}'s hand|thought fast|looked around}. "{Let's go to {shelter}!|Come with me to )"
        R"({shelter}!|Quick, to {shelter}!}" {he} said.)",
        R"(They ran to {shelter} and waited {there|together|close to each other}. {H} {told a funny story|sang a )"
        R"(little song|counted the raindrops} to help {F} feel better.)",
        R"({Soon|After a while|At last}, the {rain stopped|storm was over|wind went away} and the sun came back. )"
        R"({They saw a big rainbow over the {place}.|Everything was wet and shiny.|The birds began to sing again.})",
        R"({H} and {F} {went|walked|ran} home {@happy}, {holding hands|laughing|jumping in the puddles}.)"},
       R"({{H} and {F} hid from a storm {inshelter} until the sun came back.|A storm came while {H} and {F} were )"
       R"(playing, and they waited {inshelter} until it was over.})"},

      {"animal_friend",
       {R"({=moral:that kindness makes new friends|that everyone needs a friend|that a smile can change a )"
        R"(day}{=aname:{@pet_name}})",
        R"({One day|One {@weather} {@time}|Then}, {H} saw {+@animal_adj} {A} sitting {alone|all by itself} )"
        R"({@spot_out}.)",
        R"(The {A} looked {@sad}. {It did not move.|It was shaking a little.|Its eyes were big and wet.})",
        R"({H} {walked|came} closer {slowly|very slowly|on quiet feet}. "{Hello, little {A}. Do you want to be my )"
        R"(friend?"|Hi! Are you lost?"|Don't be afraid. I will not hurt you,"} {he} said {softly|gently|with a )"
        R"(smile}.)",
        R"({H} gave the {A} {@treat}{| and a pat on the head}. The {A} {wagged its tail|made a happy sound|came )"
        R"(closer|licked {his} hand}.)",
        R"({H} named the {A} {aname}. They {played with {his} {obj}|ran in circles|sat under {+@tree}} {inplace} )"
        R"(until the sun went down.)",
        R"({From that day on|After that}, {H} and {aname} were {best friends|always together|the best of friends}.)"},
       R"({{H} made friends with a lonely {A} and named it {aname}.|{H} found a sad {A} {inplace}, was kind to it, )"
       R"(and they became friends.})"},

      {"race",
       {R"({=moral:that helping a friend matters more than winning|that friends are more important than prizes|that )"
        R"(being kind is the best way to win}{=goal:the big {@tree}|the river|the fence|the top of the hill|the old )"
        R"(gate|the red barn})",
        R"({H} and {F} {wanted to have|decided to have|had} a race to {goal}.)",
        R"("{Ready, set, go!|One, two, three, go!|On your marks, get set, go!}" {said {F}|{F} shouted}. They ran )"
        R"({very fast|as fast as they could|like the wind}.)",
        R"({H} was {winning|in front|almost at {goal}} when {he} heard {a cry|a shout|a loud "Ouch!"} behind {him}.)",
        R"({F} had {fallen down|tripped over a rock|slipped in the mud} and hurt {fhis} {knee|foot|hand}.)",
        R"({H} {stopped running|turned around} and {ran back|went back} to help. "{Are you okay?" {he} asked|Does it )"
        R"(hurt?" {he} asked|Let me help you up," {he} said}.)",
        R"(They walked to {goal} together{, holding hands|, slowly| and laughed}. {Nobody won the race, but nobody )"
        R"(minded.|It did not matter who won.})",
        R"("{You are a good friend|Thank you for coming back|You are the best}," {F} said. {H} felt {@happy}.)"},
       R"({{H} stopped in the middle of a race to help {F} after {fhe} fell.|During a race to {goal}, {H} went back )"
       R"(to help {F}, who had fallen.})"},

      {"rescue",
       {R"({=moral:that we should help those who are small|that gentle hands can help|that helping feels )"
        R"(good}{=trap:a bush|a hole|a fence|a pile of leaves|a tall tree|a muddy puddle}{=snd:{@sound}})",
        R"({One {@weather} {@time}|One day|While {he} was playing}, {H} heard {snd} {inplace}.)",
        R"({^he} {looked around|followed the sound|walked closer}. It was {+A} stuck in {trap}!)",
        R"(The {A} was {@scared} and could not get out. {It cried for help.|It tried and tried, but it was stuck.})",
        R"({H} {called {F}, and together they|ran to get {his} {p}, and together they|did not give up. {^he}} )"
        R"({pulled very gently|lifted it out slowly|moved the branches one by one}.)",
        R"(The {A} was free! {It {ran in a circle|jumped with joy|licked {H}'s hand}.|It looked at {H} as if to say )"
        R"(thank you.})",
        R"({H} felt {@happy} because {he} {helped|had been brave and kind}.{| The {A} came back to visit {him} )"
        R"(every day.})"},
       R"({{H} helped {+A} that was stuck in {trap}.|{H} heard {snd} and found {+A} stuck in {trap}, and {he} set )"
       R"(it free.})"},

      {"fear",
       {R"({=moral:that being brave means trying even when you are scared|that fear gets smaller when you face )"
        R"(it|that friends make you brave}{=fear,fearit:the dark,it|the big slide,it|the deep water,it|loud )"
        R"(thunder,it|the tall ladder,it|the old bridge,it|big dogs,them|the high swing,it})",
        R"({H} was {afraid|scared} of {fear}.{| Every time {he} {saw|thought about} {fearit}, {he} felt {@scared}.})",
        R"({One day|One {@weather} {@time}|Then}, {he} {had to|wanted to} {face|try} {fearit} {because {F} asked )"
        R"({him} to|to show {his} {p}|all by {self}}.)",
        R"({H}'s {legs|hands|knees} were shaking. "{I can't do it,"|I am too scared,"|What if something bad )"
        R"(happens?"} {he} {whispered|said}.)",
        R"({F} {held {his} hand|stood next to {him}} and said, "{Do not worry. I will stay with you.|You can do it! )"
        R"(Just one small step.|I was scared too, once.}")",
        R"({H} {took a deep breath|held {his} {obj} tight|closed {his} eyes for a second}. {^he} tried {again, one )"
        R"(small step at a time|slowly|very carefully}.)",
        R"({It was not so bad!|It was fun!|Nothing bad happened!} {H} {laughed|smiled|shouted with joy}. {^he} was )"
        R"(not afraid of {fear} anymore.)"},
       R"({{H} was afraid of {fear} but became brave with {F}'s help.|With help from {F}, {H} stopped being afraid )"
       R"(of {fear}.})"},

      {"lost_way",
       {R"({=moral:that it is smart to ask for help|to stay close to {his} {p}|that staying calm )"
        R"(helps}{=helper:police officer|kind old lady|friendly shopkeeper|park ranger|man with a dog|woman with a )"
        R"(stroller})",
        R"({H} {went|walked} to the {place} with {his} {p}. There were {so many|lots of} {people|things to )"
        R"(see|colors and sounds}.)",
        R"({H} saw {+@animal_adj} {A}{| with {+@color} collar} and {followed it|ran after it|wanted to pet it}. )"
        R"({^he} {went further and further|did not look back}.)",
        R"(When {he} {turned around|looked up}, {his} {p} was {gone|not there}! {H} was lost.)",
        R"({H} felt {@scared}. {^he} {wanted to cry|did not know where to go|looked left and right}. {Then {he} )"
        R"(remembered what {his} {p} had said: "If you get lost, ask for help."|{^he} took a deep breath.})",
        R"({^he} went to {+helper} and said, "{I can't find my {p}.|I am lost. Can you help me?|Please help me find )"
        R"(my {p}.}")",
        R"(The {helper} {held {his} hand|smiled kindly} and helped {him} look. {Soon|After a short time|Very soon}, )"
        R"({H} saw {his} {p}!)",
        R"({H} ran to {his} {p} and {gave {phim} a big hug|held {phim} tight}. "{I was so scared|I missed you|I )"
        R"(will stay close to you now}," {he} said.)"},
       R"({{H} got lost at the {place}, asked {+helper} for help, and found {his} {p} again.|When {H} got lost, )"
       R"({+helper} helped {him} find {his} {p}.})"},

      {"night_noise",
       {R"({=moral:that many scary things are not scary at all|that it helps to look before you worry|that being )"
        R"(brave is easier together}{=snd:{@sound}}{=cause:{+A} looking for food|the wind moving a branch|a little )"
        R"(mouse in the kitchen|the old clock|a cat on the roof|rain on the window})",
        R"({One night|Late at night|One {dark|windy|rainy} night}, {H} {was in bed|could not sleep|woke up}. {^he} )"
        R"(heard {snd}.)",
        R"({H} {pulled up {his} blanket|hid under the covers|sat up in bed}. "{What is that?|Who is there?|Is it a )"
        R"(monster?}" {he} {whispered|asked}.)",
        R"({The sound came again|Then it happened again|There it was again}: {snd}! {H} felt {@scared}.)",
        R"({^he} {called for|went to get} {his} {p}. {^phe} {came with a flashlight|took {his} hand|turned on the )"
        R"(light}. "{Let's go and see|Let's find out together|There is nothing to be afraid of}," {phe} said.)",
        R"(They {looked around the house|went to the window|walked down the stairs} {slowly|quietly|together}. It )"
        R"(was just {cause}!)",
        R"({H} {laughed|giggled|smiled}. "{It was only {cause}!|That is not scary at all!|I was scared for )"
        R"(nothing!}" {he} said.)",
        R"({^he} went back to bed and {fell asleep|slept well|dreamed happy dreams} {right away|until morning}.)"},
       R"({{H} heard {snd} at night, and with {his} {p} found out it was only {cause}.|A strange noise scared {H} )"
       R"(at night, but it was just {cause}.})"},

      {"build_again",
       {R"({=moral:that you can always try again|that working together makes things better|not to give up when )"
        R"(things go wrong}{=thing,wrecker,where:sandcastle,a big wave,the beach|snowman,the warm sun,the )"
        R"(backyard|tower of blocks,the cat,the living room|fort of sticks,a strong wind,the woods|sand house,the )"
        R"(rising water,the lake})",
        R"({One {@weather} {@time}|One day}, {H} and {F} went to {where} to build a {thing}.)",
        R"({They worked very hard.|They worked all morning.|They worked together.} {H} {made the walls|put on the )"
        R"(top|added {+@adj} door}, and {F} {found shells|added stones|made a flag}.)",
        R"({It was {the biggest|the best|the most beautiful} {thing} they had ever made.|The {thing} was tall and )"
        R"(strong.} {They were {@happy}.|"It is perfect!" said {F}.})",
        R"({But then|Suddenly|Just then}, {wrecker} {came|knocked it down|ruined the {thing}}. {The {thing} was )"
        R"(gone!|Only a small pile was left.})",
        R"({H} {felt {@sad}|wanted to cry|sat down}. "{All our work!|It is ruined!|Now we have nothing!}" {he} said.)",
        R"({F} {thought for a moment|looked at {H}|smiled}. "{We can build it again, even better!|Let's make a new )"
        R"(one!|Don't be sad. We can try again!}" {fhe} said.)",
        R"({So they built a new {thing}|They started again}{, bigger and stronger| and this time it was even )"
        R"(better|}. {H} {learned|found out} that building it again was {fun too|even more fun}.)"},
       R"({{H} and {F} built a {thing}, and when {wrecker} destroyed it, they built a better one.|After {wrecker} )"
       R"(ruined their {thing}, {H} and {F} built it again.})"},

      {"trip",
       {R"({=moral:that the world is full of wonderful things|that trips are more fun with family|that trying new )"
        R"(things is exciting}{=dest,saw:the zoo,a tall giraffe and a sleepy lion|the sea,big boats and jumping )"
        R"(fish|the mountains,snowy tops and a clear blue lake|the city,tall buildings and busy streets|a farm,baby )"
        R"(goats and a big brown horse|the museum,the old bones of a dinosaur})",
        R"({One {@weather} {@time}|One day|On a special day}, {H} and {his} {p} went on a trip to {dest}{| by )"
        R"({train|bus|car|boat}}.)",
        R"({H} {was so excited that {he} could not sit still|looked out of the window the whole way|asked, "Are we )"
        R"(there yet?" many times}.)",
        R"(At {dest}, they saw {saw}. {H}'s eyes were {big|wide|shining}.)",
        R"("{Look at that!|Wow!|This is amazing!}" {H} {shouted|said|whispered}. {^he} {took a picture|drew it in )"
        R"({his} notebook|wanted to remember everything}.)",
        R"({They also|Then they} {ate {@food} for lunch|bought a small gift for {F}|sat on a bench and watched the )"
        R"(people}.)",
        R"({On the way home|When they came home|That evening}, {H} {told {F} all about it.|fell asleep in the )"
        R"({car|train|bus}.|said, "Can we go again?"})"},
       R"({{H} went on a trip to {dest} with {his} {p} and saw {saw}.|{H} and {his} {p} visited {dest}, where they )"
       R"(saw {saw}.})"},
  };
  return plots;
}

}  // namespace weft::data::story
