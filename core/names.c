#include "config.h"
#include "names.h"

#include <stdio.h>
#include <string.h>

/* Our own lists, in the spirit of Docker's: moods, and people who shaped
 * computing and science. */
static const char *const adjectives[] = {
    "admiring",   "adoring",    "affectionate", "agitated",   "amazing",    "angry",
    "awesome",    "beautiful",  "blissful",     "bold",       "brave",      "busy",
    "charming",   "clever",     "compassionate", "competent", "confident",  "cool",
    "cranky",     "crazy",      "dazzling",     "determined", "distracted", "dreamy",
    "eager",      "ecstatic",   "elastic",      "elated",     "elegant",    "eloquent",
    "epic",       "exciting",   "fervent",      "festive",    "flamboyant", "focused",
    "friendly",   "frosty",     "funny",        "gallant",    "gifted",     "goofy",
    "gracious",   "great",      "happy",        "hardcore",   "heuristic",  "hopeful",
    "hungry",     "infallible", "inspiring",    "intelligent", "interesting", "jolly",
    "jovial",     "keen",       "kind",         "laughing",   "loving",     "lucid",
    "magical",    "modest",     "musing",       "mystifying", "naughty",    "nervous",
    "nice",       "nifty",      "nostalgic",    "objective",  "optimistic", "peaceful",
    "pedantic",   "pensive",    "practical",    "priceless",  "quirky",     "quizzical",
    "recursing",  "relaxed",    "reverent",     "romantic",   "sad",        "serene",
    "sharp",      "silly",      "sleepy",       "stoic",      "strange",    "stupefied",
    "suspicious", "sweet",      "tender",       "thirsty",    "trusting",   "unruffled",
    "upbeat",     "vibrant",    "vigilant",     "vigorous",   "wizardly",   "wonderful",
    "xenodochial", "youthful",  "zealous",      "zen",
};

static const char *const surnames[] = {
    "agnesi",     "albattani",  "allen",      "almeida",    "archimedes", "ardinghelli",
    "babbage",    "banach",     "bardeen",    "bartik",     "bassi",      "bell",
    "benz",       "bhabha",     "blackwell",  "bohr",       "booth",      "borg",
    "bose",       "boyd",       "brahmagupta", "brattain",  "brown",      "carson",
    "cerf",       "chandrasekhar", "clarke",  "colden",     "cori",       "cray",
    "curie",      "darwin",     "davinci",    "dijkstra",   "driscoll",   "easley",
    "einstein",   "elion",      "engelbart",  "euclid",     "euler",      "faraday",
    "fermat",     "fermi",      "feynman",    "franklin",   "galileo",    "gates",
    "goldberg",   "goldstine",  "goodall",    "hamilton",   "hawking",    "heisenberg",
    "hellman",    "hodgkin",    "hoover",     "hopper",     "hypatia",    "jackson",
    "jang",       "jennings",   "jepsen",     "johnson",    "joliot",     "kalam",
    "keller",     "kepler",     "khorana",    "kilby",      "knuth",      "kowalevski",
    "lalande",    "lamarr",     "lamport",    "leakey",     "leavitt",    "lehmann",
    "liskov",     "lovelace",   "lumiere",    "mahavira",   "margulis",   "mayer",
    "mccarthy",   "mcclintock", "meitner",    "mendel",     "mirzakhani", "montalcini",
    "moore",      "morse",      "napier",     "nash",       "neumann",    "newton",
    "nobel",      "noether",    "northcutt",  "noyce",      "pascal",     "pasteur",
    "payne",      "perlman",    "pike",       "poincare",   "ptolemy",    "raman",
    "ramanujan",  "ride",       "ritchie",    "robinson",   "roentgen",   "rosalind",
    "saha",       "sammet",     "shannon",    "shaw",       "shirley",    "shockley",
    "sinoussi",   "snyder",     "spence",     "stallman",   "stonebraker", "swanson",
    "swartz",     "taussig",    "tesla",      "thompson",   "torvalds",   "turing",
    "varahamihira", "villani",  "visvesvaraya", "wescoff",  "wiles",      "williams",
    "wilson",     "wing",       "wozniak",    "wright",     "wu",         "yalow",
    "yonath",     "zhukovsky",
};

void strata_random_name(uint64_t r, char *buf, size_t len) {
  size_t na = sizeof(adjectives) / sizeof(adjectives[0]);
  size_t ns = sizeof(surnames) / sizeof(surnames[0]);
  const char *a = adjectives[r % na];
  const char *s = surnames[(r / na) % ns];
  /* Steve Wozniak is not boring */
  if (strcmp(a, "boring") == 0 && strcmp(s, "wozniak") == 0)
    a = "brave";
  snprintf(buf, len, "%s_%s", a, s);
}
