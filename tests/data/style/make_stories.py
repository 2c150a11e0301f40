#!/usr/bin/env python3
"""Writes train.jsonl, eval.jsonl and completion.jsonl: short stories in the style of
TinyStories that always end with the same closing line. The fine-tuning test trains
stories260K on train.jsonl and checks that the held-out loss drops and that greedy
decoding produces the closing line. Run it from this directory; the output is fixed by the
seed, so rerunning reproduces the committed files."""
import json
import random

CLOSING = "And they all lived happily by the sea."

NAMES = [("Tom", "boy"), ("Lily", "girl"), ("Ben", "boy"), ("Mia", "girl"), ("Sam", "boy"),
         ("Anna", "girl"), ("Max", "boy"), ("Sue", "girl"), ("Tim", "boy"), ("Lucy", "girl"),
         ("Jack", "boy"), ("Zoe", "girl")]
FRIENDS = ["a little crab", "a shy seal", "a happy dog", "an old turtle", "a small bird",
           "a kind fish", "a funny frog", "a big whale"]
THINGS = ["a red ball", "a shiny shell", "a blue kite", "a little boat", "a yellow hat",
          "a toy car", "a big bucket", "a soft bear"]
PLACES = ["at the beach", "on the rocks", "on the sand", "on the big hill by the water",
          "on the old pier"]
PROBLEMS = [
    "The wind took {thing} far away.",
    "A big wave came and {thing} was gone.",
    "{name} dropped {thing} in a deep hole.",
    "{thing_cap} fell into the water and began to float away.",
    "A naughty gull grabbed {thing} and flew up high.",
]
HELPS = [
    "{friend_cap} said, \"Do not be sad. I will help you.\"",
    "{friend_cap} saw the tears and came to help.",
    "{friend_cap} swam fast and looked everywhere.",
    "{friend_cap} had a good idea and smiled.",
]
ENDS = [
    "Soon {friend} found {thing} and gave it back.",
    "Together they got {thing} back and laughed.",
    "At last {thing} was safe again, and {name} said thank you.",
    "{name} hugged {friend} and they played until the sun went down.",
]
MORALS = [
    "{name} learned that friends help each other.",
    "{name} was very happy to have a new friend.",
    "From that day, {name} and {friend} played every day.",
    "",
]


def cap(s):
    return s[0].upper() + s[1:]


def story(rng, person, friend, thing, place):
    name, kind = person
    fields = {"name": name, "friend": friend, "friend_cap": cap(friend), "thing": thing,
              "thing_cap": cap(thing)}
    parts = [
        f"Once upon a time, there was a little {kind} named {name}.",
        f"{name} liked to play with {thing} {place}.",
        rng.choice(PROBLEMS).format(**fields),
        f"{name} was sad and began to cry.",
        rng.choice(HELPS).format(**fields),
        rng.choice(ENDS).format(**fields),
    ]
    moral = rng.choice(MORALS).format(**fields)
    if moral:
        parts.append(moral)
    return " ".join(parts)


def main():
    rng = random.Random(7)
    combos = [(n, f, t, p) for n in NAMES for f in FRIENDS for t in THINGS for p in PLACES]
    rng.shuffle(combos)
    stories = [story(rng, *c) for c in combos[:98]]
    train, held = stories[:80], stories[80:]
    with open("train.jsonl", "w") as f:
        for s in train:
            f.write(json.dumps({"text": s + " " + CLOSING}) + "\n")
    with open("eval.jsonl", "w") as f:
        for s in held:
            f.write(json.dumps({"text": s + " " + CLOSING}) + "\n")
    with open("completion.jsonl", "w") as f:
        for s in held:
            f.write(json.dumps({"prompt": s, "completion": " " + CLOSING}) + "\n")


if __name__ == "__main__":
    main()
