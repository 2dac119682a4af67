"""The example's command line: the C++ demo's flags (examples/seo_pipeline), plus the DataLoader's
start method. A bad value is a one-line error naming the flag and what it accepts."""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

PLANTS = ["no-workers", "batch-size-1", "no-cache", "slow-tokenizer", "leak"]


def default_workers() -> int:
    """The cores left beside the training process, 1 to 4."""
    cores = os.cpu_count() or 1
    return max(1, min(cores - 1 if cores > 1 else 1, 4))


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage + message; one line is enough
        sys.stderr.write(f"seo_pipeline: {message} (see --help)\n")
        sys.exit(2)


def in_range(kind: type, low: float, high: float):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__} in [{low}, {high}], got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__} in [{low}, {high}], got {text!r}")
        return value
    return parse


def plant_list(text: str) -> List[str]:
    plants = [p for p in text.split(",") if p]
    for p in plants:
        if p not in PLANTS:
            raise argparse.ArgumentTypeError(f"unknown plant {p!r}: expected one of {', '.join(PLANTS)}")
    return plants


def parse(argv: Optional[List[str]] = None) -> argparse.Namespace:
    ap = OneLineParser(prog="seo_pipeline", description=(
        "Trains and runs a small page-quality model (PyTorch) on a synthetic web corpus, profiled end to "
        "end by codeprof. Prints the bottlenecks and recommendations and writes the reports to --output."))
    ap.add_argument("--data-dir", default="seo_data", help="where the corpus is generated on the first run")
    ap.add_argument("--corpus-mb", type=in_range(float, 0.1, 4096), default=8.0, help="corpus size in MB")
    ap.add_argument("--seed", type=in_range(int, 0, 2**31), default=42)
    ap.add_argument("--workers", type=in_range(int, 0, 64), default=None,
                    help="DataLoader worker processes (0: load in the training process; default: one per core "
                         "beyond the training process's, at least 1, at most 4)")
    ap.add_argument("--prefetch", type=in_range(int, 0, 1024), default=4, help="batches each worker prepares ahead")
    ap.add_argument("--batch-size", type=in_range(int, 1, 4096), default=32, help="pages per batch")
    ap.add_argument("--max-tokens", type=in_range(int, 1, 100000), default=256, help="tokens kept per page")
    ap.add_argument("--vocab-size", type=in_range(int, 16, 1000000), default=20000, help="vocabulary entries")
    ap.add_argument("--vocab-sample", type=in_range(int, 1, 10000000), default=2000,
                    help="training pages read to build the vocabulary")
    ap.add_argument("--epochs", type=in_range(int, 1, 1000), default=8, help="maximum epochs (early stopping may end sooner)")
    ap.add_argument("--embed-dim", type=in_range(int, 1, 4096), default=32, help="embedding width")
    ap.add_argument("--hidden", type=in_range(int, 1, 16384), default=256, help="hidden layer width")
    ap.add_argument("--grad-accum", type=in_range(int, 1, 1024), default=2, help="micro-batches per optimizer step")
    ap.add_argument("--patience", type=in_range(int, 1, 1000), default=2,
                    help="epochs without validation improvement before stopping")
    ap.add_argument("--lr", type=in_range(float, 1e-7, 10.0), default=0.003, help="learning rate")
    ap.add_argument("--lr-step", type=in_range(int, 1, 1000), default=2, help="epochs between learning-rate decays")
    ap.add_argument("--lr-gamma", type=in_range(float, 0.01, 1.0), default=0.5, help="learning-rate decay factor")
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                    help="auto (bf16 autocast when it is faster here), fp32 or bf16")
    ap.add_argument("--threads", type=in_range(int, 1, 256), default=1, help="torch intra-op threads")
    ap.add_argument("--torch-ops", type=in_range(float, 0.0, 1.0), default=1.0,
                    help="fraction of libtorch operators recorded by codeprof (0: off)")
    ap.add_argument("--start-method", choices=["fork", "spawn", "forkserver"], default="fork",
                    help="how DataLoader workers start")
    ap.add_argument("--plant", type=plant_list, default=[], help="plant known problems (comma-separated): " + ", ".join(PLANTS))
    ap.add_argument("--output", "-o", default="codeprof_output", help="directory for the reports")
    ap.add_argument("--serve", action="store_true", help="serve the live dashboard during the run and keep it up afterwards")
    ap.add_argument("--port", type=in_range(int, 1, 65535), default=8765, help="dashboard port (with --serve)")
    ap.add_argument("--no-progress", dest="progress", action="store_false", help="no per-epoch lines")
    ap.add_argument("--quick", action="store_true", help="a small run for tests: 1.2 MB corpus, 5 epochs, vocabulary from 300 pages")
    ap.add_argument("--generate-only", action="store_true", help="generate the corpus and exit")
    o = ap.parse_args(argv)
    given = {a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:]) if a.startswith("--")}
    if o.workers is None:
        o.workers = default_workers()
    if o.quick:  # explicit flags win over the quick defaults
        if "--corpus-mb" not in given:
            o.corpus_mb = 1.2
        if "--epochs" not in given:
            o.epochs = 5
        if "--vocab-size" not in given:
            o.vocab_size = 8000
        if "--vocab-sample" not in given:
            o.vocab_sample = 300
    o.tokenizer = "fast"
    o.reread_corpus = False
    o.leak = False
    for plant in o.plant:
        if plant == "no-workers":
            if "--workers" not in given:
                o.workers = 0
            if "--prefetch" not in given:
                o.prefetch = 0
        elif plant == "batch-size-1" and "--batch-size" not in given:
            o.batch_size = 1
        elif plant == "no-cache":
            o.reread_corpus = True
        elif plant == "slow-tokenizer":
            o.tokenizer = "slow"
        elif plant == "leak":
            o.leak = True
    return o
