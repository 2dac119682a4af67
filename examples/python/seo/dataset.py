"""The pages as a torch Dataset: each item is prepared on the fly (clean-up, tokenisation,
encoding, features), recorded with codeprof wherever it runs (here or in a DataLoader worker
process). The dataset is indexed by whole batches (DataLoader(batch_size=None, sampler=
BatchSampler(...))), so one load_batch scope covers a batch as the C++ demo's loader does."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Sequence

import torch
from torch.utils.data import Dataset

import codeprof
from . import text


@dataclass
class Example:
    tokens: List[int]
    features: List[float]
    score: float
    page_id: int


@dataclass
class Batch:
    tokens: torch.Tensor     # (n, longest) padded with PAD
    features: torch.Tensor   # (n, FEATURES)
    targets: torch.Tensor    # (n,)
    page_ids: List[int]


# Batches of at least this many pages travel from a worker as tensors in shared memory (the pipe
# carries only their handles); smaller ones as one pickle of lists, which costs less than passing a
# shared-memory file descriptor per tensor.
SHARED_MEMORY_PAGES = 8


@dataclass
class RawBatch:
    """What a loader worker hands over; the training process makes the model's tensors of it
    (batch_to_tensors)."""
    tokens: Any  # (n, longest) padded with PAD: a tensor, or lists for small batches
    dense: Any   # (n, FEATURES + 1): the features, then the target score
    page_ids: List[int]

    def to_tensors(self) -> Batch:
        tokens = self.tokens if isinstance(self.tokens, torch.Tensor) else torch.tensor(self.tokens, dtype=torch.long)
        dense = self.dense if isinstance(self.dense, torch.Tensor) else torch.tensor(self.dense, dtype=torch.float32)
        return Batch(tokens, dense[:, :-1], dense[:, -1], self.page_ids)


class PageDataset(Dataset):
    def __init__(self, store, pages: Sequence[int], vocabulary: Dict[str, int], tokenizer: Callable,
                 max_tokens: int, profiler: codeprof.CodeProfiler) -> None:
        self.store = store
        self.pages = list(pages)
        self.vocabulary = vocabulary
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.profiler = profiler

    def __len__(self) -> int:
        return len(self.pages)

    def prepare(self, k: int) -> Example:
        p = self.profiler
        i = self.pages[k]
        html = self.store.page(i)
        with p.profile_operation("clean_html", "preprocessing"):
            parsed = text.parse_html(html)
        with p.profile_operation("tokenize", "preprocessing"):
            tokens = self.tokenizer(parsed.text)
        with p.profile_operation("encode_tokens", "preprocessing"):
            ids = text.encode(tokens, self.vocabulary, self.max_tokens)
        with p.profile_operation("extract_features", "preprocessing"):
            features = text.extract_features(parsed, tokens)
        page = self.store.corpus.pages[i]
        return Example(ids, features, page.score, page.id)

    def __getitem__(self, batch: List[int]) -> RawBatch:
        with self.profiler.profile_operation("load_batch", "data_loading"):
            examples = [self.prepare(k) for k in batch]
            return collate(examples, self.profiler)


def collate(examples: List[Example], profiler: codeprof.CodeProfiler) -> RawBatch:
    with profiler.profile_operation("pad_batch", "preprocessing"):
        longest = max(len(e.tokens) for e in examples)
        tokens = [e.tokens + [text.PAD] * (longest - len(e.tokens)) for e in examples]
        dense = [e.features + [e.score] for e in examples]
        if len(examples) >= SHARED_MEMORY_PAGES:
            return RawBatch(torch.tensor(tokens, dtype=torch.long), torch.tensor(dense, dtype=torch.float32),
                            [e.page_id for e in examples])
        return RawBatch(tokens, dense, [e.page_id for e in examples])


class PreparedDataset(Dataset):
    """Validation and held-out pages never change: prepared once, then only collated."""

    def __init__(self, examples: List[Example], profiler: codeprof.CodeProfiler) -> None:
        self.examples = examples
        self.profiler = profiler

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, batch: List[int]) -> RawBatch:
        with self.profiler.profile_operation("load_batch", "data_loading"):
            return collate([self.examples[k] for k in batch], self.profiler)
