"""HTML clean-up, tokenisers (a fast one, and the deliberately slow one of --plant slow-tokenizer),
the vocabulary and the page's SEO features."""
from __future__ import annotations

import html as html_lib
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List

PAD, UNKNOWN = 0, 1
FEATURES = 12

_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
_DESCRIPTION = re.compile(r'<meta name="description" content="([^"]*)"')
_INVISIBLE = re.compile(r"<(script|style|nav|footer)\b.*?</\1>", re.S)
_TAG = re.compile(r"<[^>]*>")
_HREF = re.compile(r'<a href="([^"]*)"')
_IMG = re.compile(r"<img\b[^>]*>")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+")
_ALNUM = re.compile(r"[A-Za-z0-9]")
_STOP = {"the", "and", "that", "this", "with", "from", "for", "are"}


@dataclass
class ParsedPage:
    title: str
    description: str
    text: str
    h1: int
    h2: int
    internal_links: int
    external_links: int
    broken_links: int
    images: int
    images_without_alt: int


def parse_html(page: str) -> ParsedPage:
    """The visible text and the structural facts SEO cares about."""
    title = _TITLE.search(page)
    description = _DESCRIPTION.search(page)
    hrefs = _HREF.findall(page)
    images = _IMG.findall(page)
    body = _INVISIBLE.sub(" ", page)
    text = _SPACE.sub(" ", html_lib.unescape(_TAG.sub(" ", body))).strip()
    return ParsedPage(
        title=html_lib.unescape(title.group(1)) if title else "",
        description=description.group(1) if description else "",
        text=text,
        h1=page.count("<h1>"),
        h2=page.count("<h2>"),
        internal_links=sum(1 for h in hrefs if h.startswith("/")),
        external_links=sum(1 for h in hrefs if "://" in h),
        broken_links=sum(1 for h in hrefs if h in ("", "#")),
        images=len(images),
        images_without_alt=sum(1 for i in images if " alt=" not in i),
    )


def tokenize_fast(text: str) -> List[str]:
    return _WORD.findall(text.lower())


def tokenize_slow(text: str) -> List[str]:
    """Deliberately naive (what --plant slow-tokenizer measures): every character is classified on
    its own, and tokens grow by concatenation."""
    tokens, current = [], ""
    for i in range(len(text)):
        ch = text[i:i + 1]
        if _ALNUM.match(ch):
            current = current + ch.lower()
        elif current:
            tokens.append(current)
            current = ""
    if current:
        tokens.append(current)
    return tokens


def build_vocabulary(token_lists: List[List[str]], size: int) -> Dict[str, int]:
    counts = Counter(t for tokens in token_lists for t in tokens)
    return {word: i + 2 for i, (word, _) in enumerate(counts.most_common(max(0, size - 2)))}


def encode(tokens: List[str], vocabulary: Dict[str, int], max_tokens: int) -> List[int]:
    ids = [vocabulary.get(t, UNKNOWN) for t in tokens[:max_tokens]]
    return ids or [UNKNOWN]


def extract_features(page: ParsedPage, tokens: List[str]) -> List[float]:
    counts = Counter(t for t in tokens if len(t) >= 4 and t not in _STOP)
    keyword, keyword_count = (min(counts.items(), key=lambda kv: (-kv[1], kv[0])) if counts else ("", 0))
    title = tokenize_fast(page.title)
    description = tokenize_fast(page.description)
    words = float(len(tokens))

    def clamp(v: float) -> float:
        return min(1.0, max(0.0, v))

    return [
        clamp(len(title) / 14.0),
        1.0 if keyword and keyword in title else 0.0,
        clamp(len(description) / 40.0),
        1.0 if description else 0.0,
        1.0 if page.h1 == 1 else 0.0,
        clamp(page.h2 / 6.0),
        clamp(page.internal_links / 20.0),
        clamp(page.external_links / 10.0),
        clamp(page.broken_links / 5.0),
        clamp(math.log1p(words) / 7.0),
        clamp(10.0 * keyword_count / words) if words else 0.0,
        clamp(page.images_without_alt / page.images) if page.images else 0.0,
    ]
