"""A synthetic web corpus: HTML pages with a hidden quality score, stored as zlib-compressed shards
with an index (as crawls are), generated once per (size, seed) and read back by CorpusStore."""
from __future__ import annotations

import os
import random
import shutil
import zlib
from dataclasses import dataclass
from typing import List

import codeprof

FORMAT = 2  # 2: shorter pages
SHARD_BYTES = 256 * 1024

TOPICS = {
    "coffee": ["coffee", "espresso", "roast", "beans", "brew", "barista", "arabica", "grinder"],
    "travel": ["travel", "flights", "hotel", "itinerary", "passport", "luggage", "resort", "destination"],
    "fitness": ["fitness", "workout", "protein", "cardio", "muscle", "stretching", "treadmill", "endurance"],
    "finance": ["finance", "mortgage", "savings", "budget", "interest", "investment", "pension", "credit"],
    "gardening": ["gardening", "compost", "seedlings", "pruning", "tomatoes", "soil", "perennials", "mulch"],
    "cooking": ["cooking", "recipe", "oven", "saucepan", "simmer", "garlic", "pastry", "seasoning"],
    "software": ["software", "compiler", "debugging", "database", "deployment", "latency", "framework", "refactoring"],
    "cycling": ["cycling", "bicycle", "gears", "saddle", "helmet", "puncture", "derailleur", "commute"],
}
QUALITY = ["research", "guide", "analysis", "detailed", "expert", "study", "tested", "sources", "evidence"]
SPAM = ["cheap", "buy", "free", "discount", "click", "winner", "limited", "offer", "bonus", "casino"]
STOP = ["the", "a", "of", "and", "to", "in", "is", "for", "with", "on", "that", "this", "it", "as", "are"]
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "ven", "dor", "sil", "pra", "tor", "qui", "bel", "zan", "fo", "gri"]


def _filler(rng: random.Random) -> List[str]:
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(2000)]


FILLER = _filler(random.Random(0xF111E5))


@dataclass
class Page:
    id: int
    score: float
    shard: int
    offset: int
    length: int


def generate_page(seed: int, page_id: int) -> tuple:
    """(html, score): the score is a hidden function of the page's traits, plus noise."""
    rng = random.Random(seed * 1_000_003 + page_id)
    topic = rng.choice(list(TOPICS))
    keywords = TOPICS[topic]
    title_words = rng.randint(2, 14)
    title_keyword = rng.random() < 0.7
    meta_words = rng.randint(4, 40) if rng.random() < 0.75 else 0
    h1 = 1 if rng.random() < 0.7 else rng.randint(0, 3)
    h2 = rng.randint(0, 6)
    paragraphs = rng.randint(2, 4)
    density = 0.06 + 0.08 * rng.random() if rng.random() < 0.15 else 0.002 + 0.04 * rng.random()
    spam = rng.randint(1, 8) if rng.random() < 0.3 else 0
    quality = rng.randint(0, 10)
    internal, external = rng.randint(0, 20), rng.randint(0, 10)
    broken = rng.randint(1, 5) if rng.random() < 0.25 else 0
    images = rng.randint(0, 6)
    no_alt = rng.randint(0, images) if images else 0

    def words(n: int) -> str:
        out = []
        for _ in range(n):
            u = rng.random()
            if u < density:
                out.append(keywords[rng.randint(0, 7) // 3])
            elif u < 0.45:
                out.append(rng.choice(STOP))
            elif u < 0.5:
                out.append(rng.choice(keywords))
            elif u < 0.53 and spam:
                out.append(rng.choice(SPAM))
            elif u < 0.56 and quality:
                out.append(rng.choice(QUALITY))
            else:
                out.append(rng.choice(FILLER))
        return " ".join(out)

    title = (keywords[0] + " " if title_keyword else "") + words(title_words)
    parts = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
             f"<title>{title.capitalize()}</title>\n"]
    if meta_words:
        parts.append(f'<meta name="description" content="{words(meta_words)}">\n')
    parts.append(f'<script>window.analytics={{page:{page_id},topic:"{topic}"}};</script>\n</head>\n<body>\n')
    parts.append(f'<nav><a href="/">Home</a> | <a href="/{topic}/">{topic}</a></nav>\n')
    for i in range(h1):
        parts.append(f"<h1>{(keywords[0] + ' ' if i == 0 else '') + words(4)}</h1>\n")
    for p in range(paragraphs):
        if 0 < p <= h2:
            parts.append(f"<h2>{words(4)}</h2>\n")
        links = "".join(f' <a href="/{topic}/{rng.randint(1, 9999)}">{rng.choice(FILLER)}</a>'
                        for _ in range(internal // paragraphs + (p < internal % paragraphs)))
        links += "".join(f' <a href="https://example{rng.randint(1, 99)}.org/" rel="nofollow">x</a>'
                         for _ in range(external // paragraphs + (p < external % paragraphs)))
        if p < broken:
            links += ' <a href="#">more</a>'
        parts.append(f"<p>{words(rng.randint(10, 30))}{links} &amp; {words(rng.randint(3, 8))}.</p>\n")
        if p < images:
            alt = "" if p < no_alt else f' alt="{words(3)}"'
            parts.append(f'<img src="/img/{rng.randint(1, 99999)}.jpg"{alt}>\n')
    parts.append('<footer><p>&copy; Example Pages &middot; <a href="/about">About</a></p></footer>\n</body>\n</html>\n')

    s = (0.8 if title_keyword else -0.2) + (0.5 if 4 <= title_words <= 10 else -0.4)
    s += -0.6 if meta_words == 0 else (0.6 if 8 <= meta_words <= 30 else 0.0)
    s += 0.4 if h1 == 1 else -0.3
    s += 0.1 * min(h2, 4) - 0.45 * spam + 0.08 * min(quality, 8) - 0.25 * broken
    s += -1.2 if density > 0.06 else (0.6 if density >= 0.01 else -0.3)
    s += (0.3 if 3 <= internal <= 15 else -0.1) + (0.2 if 1 <= external <= 6 else -0.1)
    if images:
        s -= 0.4 * no_alt / images
    s += 0.25 * rng.gauss(0.0, 1.0)
    score = 1.0 / (1.0 + pow(2.718281828, -(s - 0.9)))
    return "".join(parts), score


class Corpus:
    """The corpus on disk: manifest, index and shards in one directory per (size, seed)."""

    def __init__(self, directory: str, pages: List[Page]) -> None:
        self.directory = directory
        self.pages = pages
        self.shards = sorted({p.shard for p in pages})

    def shard_path(self, shard: int) -> str:
        return os.path.join(self.directory, f"shard_{shard:04d}.pages.z")


def ensure_corpus(directory: str, megabytes: float, seed: int, profiler: codeprof.CodeProfiler) -> tuple:
    """The corpus at `directory`, generated first if missing or made from other settings.
    Returns (corpus, generated)."""
    manifest = f"format {FORMAT}\nseed {seed}\nbytes {int(megabytes * (1 << 20))}\n"
    manifest_path = os.path.join(directory, "manifest.txt")
    if os.path.exists(manifest_path) and open(manifest_path).read() == manifest:
        return _load_index(directory), False
    shutil.rmtree(directory, ignore_errors=True)
    tmp = f"{directory}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    target = int(megabytes * (1 << 20))
    index, shard, shard_no, written, page_id = [], [], 0, 0, 0
    shard_size = 0
    with profiler.profile_operation("generate_corpus", "io"):
        while written < target:
            with profiler.profile_operation("generate_pages", "data_loading"):
                while shard_size < SHARD_BYTES and written + shard_size < target:
                    html, score = generate_page(seed, page_id)
                    data = html.encode()
                    index.append(f"{page_id}\t{score:.6f}\t{shard_no}\t{shard_size}\t{len(data)}\n")
                    shard.append(data)
                    shard_size += len(data)
                    page_id += 1
            with profiler.profile_operation("write_shard", "io"):
                with open(os.path.join(tmp, f"shard_{shard_no:04d}.pages.z"), "wb") as f:
                    f.write(zlib.compress(b"".join(shard), 1))
            written += shard_size
            shard, shard_size, shard_no = [], 0, shard_no + 1
        with open(os.path.join(tmp, "index.tsv"), "w") as f:
            f.writelines(index)
        with open(os.path.join(tmp, "manifest.txt"), "w") as f:
            f.write(manifest)  # last: its presence marks a complete corpus
    os.makedirs(os.path.dirname(os.path.abspath(directory)), exist_ok=True)
    try:
        os.rename(tmp, directory)
    except OSError:  # another run finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return _load_index(directory), True


def _load_index(directory: str) -> Corpus:
    pages = []
    path = os.path.join(directory, "index.tsv")
    with open(path) as f:
        for n, line in enumerate(f, 1):
            fields = line.split("\t")
            if len(fields) != 5:
                raise ValueError(f"{path}:{n}: expected 'id score shard offset length' (delete {directory} to regenerate)")
            pages.append(Page(int(fields[0]), float(fields[1]), int(fields[2]), int(fields[3]), int(fields[4])))
    return Corpus(directory, pages)


class CorpusStore:
    """The corpus read into memory: every shard read from disk and decompressed."""

    def __init__(self, corpus: Corpus, profiler: codeprof.CodeProfiler) -> None:
        self.corpus = corpus
        self.shards = {}
        with profiler.profile_operation("load_corpus", "data_loading"):
            for shard in corpus.shards:
                with profiler.profile_operation("read_shard", "io"):
                    with open(corpus.shard_path(shard), "rb") as f:
                        packed = f.read()
                self.shards[shard] = zlib.decompress(packed)

    def page(self, i: int) -> str:
        p = self.corpus.pages[i]
        return self.shards[p.shard][p.offset:p.offset + p.length].decode()
