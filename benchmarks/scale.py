"""Scale benchmark: ingest, search, ask, forget and small writes on generated conversations of 1k to 100k turns.

What it measures
    A seeded generator writes one long, varied conversation: a cast of people (names,
    home cities, jobs, employers, pets, relatives, hobbies) talking in pairs over dated
    sessions, in sentences built from templates x vocabularies with places, numbers,
    dates and relative dates ("last Tuesday"), questions and short replies, and now and
    then a changed attribute ("I moved to Porto"). For each size and memory mode, a
    child process (so peak RSS is that configuration's alone) opens a fresh data
    directory through the public API (`Agent.open(home, namespace, model="none",
    memory=...)`) and measures:
      - ingest: `agent.ingest(file)` of the whole conversation, in turns/s;
      - search p50/p95 (`agent.search(q, 10)`) and `ask` p50/p95 (`agent.ask`, no LLM)
        over generated questions about the cast;
      - forget: `agent.forget(turn=...)` of one turn from the middle;
      - +10 turns: `agent.ingest` of a file with one new 10-turn session;
      - reopen: closing the agent, opening it again and the first search;
      - peak RSS of the child (getrusage) and the size of the data directory;
      - CPU seconds (all threads) next to wall time, and the 1-minute load average: on a
        shared machine wall times grow with the others' load, CPU times much less.
    `--profile DIR` writes cProfile statistics of the ingest, forget and +10 steps.

Run
    python -m hyperloom.benchmarks.scale [--sizes 1000,5000,20000] [--modes flat,structured] [--seed 7]
        [--searches 60] [--asks 30] [--profile DIR]

A Markdown table is printed at the end (and each row as JSON as soon as it is measured).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

# -- the generator --------------------------------------------------------------------------------------------

FIRST_NAMES = [
    "Maya", "Jonas", "Aisha", "Tomasz", "Lena", "Ravi", "Sofia", "Kenji", "Amara", "Mateo", "Ingrid", "Yusuf", "Chloe", "Dmitri", "Priya", "Oskar",
    "Fatima", "Lucas", "Hana", "Emeka", "Clara", "Diego", "Freya", "Kwame", "Elif", "Marco", "Nadia", "Sven", "Leila", "Hugo", "Zara", "Anton",
    "Mei", "Rafael", "Astrid", "Tariq", "Isla", "Bruno", "Noor", "Felix", "Carmen", "Idris", "Greta", "Pablo", "Yara", "Milan", "Rosa", "Arjun",
]
CITIES = [
    "Lisbon", "Porto", "Berlin", "Hamburg", "Munich", "Vienna", "Zurich", "Prague", "Krakow", "Warsaw", "Oslo", "Stockholm", "Copenhagen", "Helsinki",
    "Dublin", "Edinburgh", "Manchester", "Bristol", "Lyon", "Marseille", "Bordeaux", "Barcelona", "Valencia", "Seville", "Bologna", "Turin", "Naples",
    "Athens", "Istanbul", "Tbilisi", "Nairobi", "Accra", "Lagos", "Cairo", "Mumbai", "Pune", "Osaka", "Kyoto", "Seoul", "Taipei", "Hanoi", "Montreal",
    "Toronto", "Boston", "Chicago", "Denver", "Austin", "Portland", "Lima", "Bogota",
]
COUNTRIES = ["Portugal", "Japan", "Norway", "Kenya", "Peru", "Iceland", "Vietnam", "Morocco", "Chile", "Greece", "Canada", "Scotland", "Georgia", "Mexico", "India"]
PLACES = ["the lake", "the old harbour", "the botanical garden", "the climbing gym", "the farmers market", "the city library", "the river path", "the national park", "the museum of modern art", "the night market", "the hills north of town", "the beach"]
ACTIVITIES = ["hiking", "bouldering", "swimming", "painting", "pottery", "salsa dancing", "rowing", "birdwatching", "baking sourdough", "cycling", "running", "yoga", "chess", "surfing", "kayaking", "knitting", "photography", "gardening", "skateboarding", "playing the violin", "playing the cello", "woodworking"]
FOODS = ["ramen", "paella", "dumplings", "tacos", "pierogi", "falafel", "risotto", "jollof rice", "pho", "shakshuka", "lasagna", "curry", "bibimbap", "empanadas", "moussaka"]
BOOKS = ["The Left Hand of Darkness", "Middlemarch", "The Overstory", "Piranesi", "Beloved", "Klara and the Sun", "The Dispossessed", "Stoner", "Homegoing", "The Remains of the Day", "Dune", "Circe", "The Name of the Rose", "Pachinko", "Solaris"]
COMPANIES = ["Bosch", "Siemens", "Nordlys Energy", "Bluefin Labs", "Helix Robotics", "Oakridge Bank", "Atlas Logistics", "Verde Foods", "Lumen Health", "Cobalt Games", "Meridian Press", "Quanta Analytics", "Harbor Studio", "Tessellate", "Ferro Motors"]
JOBS = ["nurse", "software engineer", "architect", "teacher", "data analyst", "chef", "journalist", "physiotherapist", "civil engineer", "graphic designer", "pharmacist", "lawyer", "veterinarian", "electrician", "translator"]
PET_KINDS = ["dog", "cat", "parrot", "rabbit", "tortoise", "hamster"]
PET_NAMES = ["Pixel", "Biscuit", "Mango", "Luna", "Pepper", "Olive", "Noodle", "Ziggy", "Clementine", "Basil", "Tofu", "Comet", "Pickles", "Juniper"]
RELATIVES = ["sister", "brother", "mother", "father", "cousin", "aunt", "uncle", "grandmother", "niece", "nephew"]
RESTAURANT_ADJ = ["Golden", "Blue", "Little", "Old", "Green", "Silver", "Hidden", "Lucky"]
RESTAURANT_NOUN = ["Lantern", "Fig", "Anchor", "Door", "Olive", "Kettle", "Fox", "Garden"]
ITEMS = ["bike", "camera", "laptop", "sofa", "pair of hiking boots", "tent", "guitar", "coffee machine", "desk", "kayak"]
VENUES = ["the Roundhouse", "the jazz cellar", "the open-air stage", "the old cinema", "the concert hall", "the stadium"]
EVENTS = ["a half marathon", "a pottery exhibition", "a chess tournament", "a food festival", "a hackathon", "a wedding", "a book launch", "a film festival", "a charity run"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
PAST = ["yesterday", "last {weekday}", "two days ago", "last week", "this morning", "last weekend", "on {date}", "a few days ago", "last month"]
FUTURE = ["next {weekday}", "next week", "in {month}", "tomorrow", "this weekend", "on {date}"]
REACTIONS = ["That sounds amazing!", "Wow, good for you.", "Haha, of course.", "Oh no, I'm sorry to hear that.", "Congrats!", "That's so cool.", "Really? Tell me more.", "Nice!", "I love that.", "Sounds exhausting, honestly."]


class Person:
    def __init__(self, name: str, rng: random.Random):
        self.name = name
        self.city = rng.choice(CITIES)
        self.job = rng.choice(JOBS)
        self.company = rng.choice(COMPANIES)
        self.hobbies = rng.sample(ACTIVITIES, 3)
        self.pet = (rng.choice(PET_NAMES), rng.choice(PET_KINDS))
        self.relatives = [(r, rng.choice([n for n in FIRST_NAMES if n != name])) for r in rng.sample(RELATIVES, 3)]
        self.book = rng.choice(BOOKS)


class Generator:
    """One seeded conversation: `sessions(n_turns)` yields hyperloom JSON sessions until n_turns are written."""

    def __init__(self, seed: int, cast: int = 16):
        self.rng = random.Random(seed)
        self.people = [Person(n, self.rng) for n in self.rng.sample(FIRST_NAMES, cast)]
        self.day = datetime(2019, 1, 7, 18, 0)

    def when(self, future: bool = False) -> str:
        r = self.rng
        phrase = r.choice(FUTURE if future else PAST)
        date = self.day + timedelta(days=r.randint(3, 40) * (1 if future else -1))
        return phrase.format(weekday=r.choice(WEEKDAYS), month=r.choice(MONTHS), date=f"{date.day} {MONTHS[date.month - 1]}")

    def statement(self, me: Person, you: Person) -> str:
        r = self.rng
        relative, rel_name = r.choice(me.relatives)
        pet, kind = me.pet
        options = [
            lambda: f"I went {r.choice(me.hobbies)} at {r.choice(PLACES)} {self.when()}.",
            lambda: f"{self.when().capitalize()} I ran {r.randint(3, 25)} km along the river in {me.city}.",
            lambda: f"My {relative} {rel_name} is visiting from {r.choice(CITIES)} {self.when(True)}.",
            lambda: f"I finally finished reading {me.book}, it took me {r.randint(2, 9)} weeks.",
            lambda: f"We had dinner at the {r.choice(RESTAURANT_ADJ)} {r.choice(RESTAURANT_NOUN)} in {me.city}; the {r.choice(FOODS)} was amazing.",
            lambda: f"I've been on the {r.choice(['Atlas', 'Orion', 'Delta', 'Kite', 'Nova'])} project at {me.company} for {r.randint(2, 30)} weeks now.",
            lambda: f"{pet}, my {kind}, knocked a glass off the table {self.when()}.",
            lambda: f"The concert at {r.choice(VENUES)} {self.when()} was incredible, we stayed until {r.randint(10, 12)} pm.",
            lambda: f"I paid {r.randint(40, 2400)} euros for a new {r.choice(ITEMS)}.",
            lambda: f"My flight to {r.choice(CITIES)} leaves {self.when(True)} at {r.randint(5, 11)} am.",
            lambda: f"I signed up for a {r.choice(ACTIVITIES)} class every {r.choice(WEEKDAYS)} evening.",
            lambda: f"We should plan a trip to {r.choice(COUNTRIES)} in {r.choice(MONTHS)}, {you.name}.",
            lambda: f"I'm going to {r.choice(EVENTS)} in {r.choice(CITIES)} {self.when(True)}.",
            lambda: f"Work at {me.company} has been intense, {r.randint(3, 12)} deadlines this month.",
            lambda: f"I cooked {r.choice(FOODS)} for {r.randint(2, 12)} friends {self.when()}.",
            lambda: f"As {'an' if me.job[0] in 'aeiou' else 'a'} {me.job}, I never expected to enjoy {r.choice(me.hobbies)} this much.",
            lambda: f"{rel_name} called me {self.when()} about {r.choice(EVENTS)}.",
        ]
        if r.random() < 0.002:  # a changed attribute: a newer fact closes the older one
            me.city = r.choice([c for c in CITIES if c != me.city])
            return f"Big news: I moved to {me.city} {self.when()}."
        if r.random() < 0.001:
            me.company = r.choice([c for c in COMPANIES if c != me.company])
            return f"I started working at {me.company} {self.when()}."
        return r.choice(options)()

    def question(self, me: Person, you: Person) -> str:
        r = self.rng
        pet, _ = you.pet
        return r.choice([
            f"How was your trip to {r.choice(CITIES)}?",
            f"Did you finish {you.book} yet?",
            f"How is {pet} doing?",
            "What are you up to this weekend?",
            f"Are you still at {you.company}?",
            f"Do you still go {r.choice(you.hobbies)}?",
            f"How is your {r.choice(you.relatives)[0]}?",
            "How was work today?",
        ])

    def turn(self, me: Person, you: Person, asked: bool) -> str:
        r = self.rng
        parts = [r.choice(REACTIONS)] if asked and r.random() < 0.5 else []
        parts += [self.statement(me, you) for _ in range(r.choice([1, 1, 2, 2, 3]))]
        if r.random() < 0.35:
            parts.append(self.question(me, you))
        return " ".join(parts)

    def sessions(self, n_turns: int, first: int = 1):
        made, n = 0, first
        while made < n_turns:
            a, b = self.rng.sample(self.people, 2)
            self.day += timedelta(days=self.rng.randint(1, 4), hours=self.rng.randint(-3, 3))
            length = min(self.rng.randint(10, 40), n_turns - made)
            turns, asked = [], False
            for j in range(length):
                me, you = (a, b) if j % 2 == 0 else (b, a)
                text = self.turn(me, you, asked)
                asked = text.endswith("?")
                turns.append({"id": f"s{n}:{j + 1}", "speaker": me.name, "text": text})
            yield {"id": f"s{n}", "started_at": self.day.isoformat(), "title": f"{a.name} and {b.name}", "turns": turns}
            made += length
            n += 1

    def questions(self, k: int) -> list[str]:
        r = random.Random(self.rng.random())
        out = []
        for _ in range(k):
            p = r.choice(self.people)
            relative, rel_name = r.choice(p.relatives)
            out.append(r.choice([
                f"Where does {p.name} live?",
                f"Where does {p.name} work?",
                f"What is the name of {p.name}'s {p.pet[1]}?",
                f"When did {p.name} go {r.choice(p.hobbies)}?",
                f"Which book did {p.name} finish reading?",
                f"When is {p.name}'s {relative} {rel_name} visiting?",
                f"How many km did {p.name} run?",
                f"What did {p.name} pay for the new {r.choice(ITEMS)}?",
                f"Which events is {p.name} going to?",
                f"What did {p.name} cook for friends?",
                f"What does {p.name} do for a living?",
            ]))
        return out


def conversation(turns: int, seed: int) -> tuple[dict, dict, list[str]]:
    """(the conversation, a 10-turn follow-up session, questions), all from one seed."""
    gen = Generator(seed)
    sessions = list(gen.sessions(turns))
    more = list(gen.sessions(10, first=len(sessions) + 1))
    return {"name": f"scale-{turns}", "sessions": sessions}, {"name": f"scale-{turns}-more", "sessions": more}, gen.questions(200)


# -- one configuration, in a child process --------------------------------------------------------------------


def _p(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


def _profiled(profile: Path | None, name: str, fn):
    if profile is None:
        return fn()
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    result = profiler.runcall(fn)
    profile.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(profile / f"{name}.prof"))
    with open(profile / f"{name}.txt", "w") as out:
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    return result


def _cpu() -> float:
    """CPU seconds of this process, all threads (on a shared machine, wall time also counts the others' load)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(row: dict, name: str, fn):
    wall, cpu = time.perf_counter(), _cpu()
    result = fn()
    row[f"{name}_s"], row[f"{name}_cpu_s"] = time.perf_counter() - wall, _cpu() - cpu
    return result


def _disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(turns: int, mode: str, seed: int, searches: int, asks: int, profile: Path | None) -> dict:
    from hyperloom import Agent

    convo, more, questions = conversation(turns, seed)
    row: dict = {"turns": turns, "mode": mode, "load_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="hyperloom-scale-") as tmp:
        tmp_path = Path(tmp)
        home = tmp_path / "home"
        main_file, more_file = tmp_path / "conversation.json", tmp_path / "more.json"
        main_file.write_text(json.dumps(convo))
        more_file.write_text(json.dumps(more))
        del convo
        agent = Agent.open(home, "bench", model="none", memory=mode)
        agent.store.embedder.embed("warm up")  # model load is not ingest time
        _timed(row, "ingest", lambda: _profiled(profile and profile / f"{mode}-{turns}", "ingest", lambda: agent.ingest(main_file)))
        row["ingest_tps"] = turns / row["ingest_s"]
        row["rss_after_ingest_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        agent.warm_up(model=False)
        row["warm_up_s"] = time.perf_counter() - started
        stats = agent.stats()
        row["facts"], row["scenes"] = stats.facts, stats.scenes
        agent.search("warm up the search path", 10)
        times = []
        for q in questions[:searches]:
            t0 = time.perf_counter()
            agent.search(q, 10)
            times.append((time.perf_counter() - t0) * 1000)
        row["search_p50_ms"], row["search_p95_ms"] = _p(times, 50), _p(times, 95)
        agent.ask("warm up the graph")
        times = []
        for q in questions[searches : searches + asks]:
            t0 = time.perf_counter()
            agent.ask(q)
            times.append((time.perf_counter() - t0) * 1000)
        row["ask_p50_ms"], row["ask_p95_ms"] = _p(times, 50), _p(times, 95)
        middle = json.loads(main_file.read_text())["sessions"]
        middle = middle[len(middle) // 2]["turns"][1]["id"]
        _timed(row, "forget", lambda: _profiled(profile and profile / f"{mode}-{turns}", "forget", lambda: agent.forget(turn=middle)))
        _timed(row, "more10", lambda: _profiled(profile and profile / f"{mode}-{turns}", "more10", lambda: agent.ingest(more_file)))
        t0 = time.perf_counter()
        agent.search(questions[0], 10)
        row["search_after_write_ms"] = (time.perf_counter() - t0) * 1000
        agent.close()
        started = time.perf_counter()
        agent = Agent.open(home, "bench", model="none", memory=mode)
        agent.search(questions[1], 10)
        row["reopen_s"] = time.perf_counter() - started
        agent.close()
        row["disk_mb"] = _disk(home) / 2**20
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    row["load_end"] = os.getloadavg()[0]
    return row


# -- the parent: one child per configuration, then the table ---------------------------------------------------

COLUMNS = [
    ("turns", "turns", "{:,}"),
    ("mode", "memory", "{}"),
    ("facts", "facts", "{:,}"),
    ("scenes", "scenes", "{:,}"),
    ("ingest_tps", "ingest turns/s", "{:.0f}"),
    ("ingest_cpu_s", "ingest CPU s", "{:.0f}"),
    ("peak_rss_mb", "peak RSS MB", "{:.0f}"),
    ("search_p50_ms", "search p50 ms", "{:.1f}"),
    ("search_p95_ms", "search p95 ms", "{:.1f}"),
    ("ask_p50_ms", "ask p50 ms", "{:.1f}"),
    ("ask_p95_ms", "ask p95 ms", "{:.1f}"),
    ("forget_s", "forget 1 turn s", "{:.2f}"),
    ("forget_cpu_s", "forget CPU s", "{:.2f}"),
    ("more10_s", "+10 turns s", "{:.2f}"),
    ("more10_cpu_s", "+10 CPU s", "{:.2f}"),
    ("search_after_write_ms", "1st search after write ms", "{:.0f}"),
    ("reopen_s", "reopen + 1st search s", "{:.2f}"),
    ("disk_mb", "disk MB", "{:.0f}"),
    ("load_start", "load avg (start)", "{:.1f}"),
]


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = []
        for key, _, fmt in COLUMNS:
            value = row.get(key)
            cells.append("–" if value is None else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,20000", help="comma-separated turn counts, e.g. 1000,5000,20000,100000")
    parser.add_argument("--modes", default="flat,structured", help="flat, structured or both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--searches", type=int, default=60)
    parser.add_argument("--asks", type=int, default=30)
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile statistics of ingest, forget and +10 turns here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    modes = [m for m in args.modes.split(",") if m]
    if args.child:
        print(json.dumps(measure(sizes[0], modes[0], args.seed, args.searches, args.asks, args.profile)))
        return
    rows = []
    for size in sizes:
        for mode in modes:
            cmd = [sys.executable, "-m", "hyperloom.benchmarks.scale", "--child", "--sizes", str(size), "--modes", mode, "--seed", str(args.seed), "--searches", str(args.searches), "--asks", str(args.asks)]
            if args.profile:
                cmd += ["--profile", str(args.profile)]
            done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
            if done.returncode != 0:
                print(f"{size} turns, {mode}: failed\n{done.stderr[-3000:]}", file=sys.stderr)
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
