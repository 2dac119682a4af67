#!/usr/bin/env python3
"""The cost of one empty `with` block, side by side in one run (the ratios are what counts on a
shared machine), each as a user writes it (attribute lookup, call, with statement):

  codeprof enabled      with profiler.profile_operation("op", "data_loading"): pass
  codeprof disabled     the same with profiler.disable()
  codeprof decorator    a call of a @profiler.profile function, minus a plain call
  pure Python           a @contextmanager with time.perf_counter() and a lock-protected dict
  pure Python + psutil  the same plus psutil's RSS read before and after
  record_function       torch.autograd.profiler.record_function("op") (no profiler running)
  record_function (on)  the same under torch.profiler.profile(activities=[CPU])

Each variant runs `--rounds` rounds of `--n` blocks, interleaved with the others so that load from
other processes hits all alike; a round's time minus an empty loop of as many iterations, divided
by n, is one measurement; the median of the rounds is reported.

    PYTHONPATH=build/release/python /usr/bin/python3 bench/python_scope_bench.py [--json out.json]
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import statistics
import sys
import threading
import time
from typing import Callable, Dict, List, Optional

import codeprof


class PurePythonProfiler:
    """What a careful pipeline author writes without a profiler library."""

    def __init__(self, with_rss: bool = False) -> None:
        self.lock = threading.Lock()
        self.stats: Dict[tuple, List[float]] = {}
        self.process = None
        if with_rss:
            import psutil
            self.process = psutil.Process()

    @contextlib.contextmanager
    def profile_operation(self, name: str, category: str):
        rss_before = self.process.memory_info().rss if self.process else 0
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            rss_delta = self.process.memory_info().rss - rss_before if self.process else 0
            with self.lock:
                s = self.stats.setdefault((name, category), [0, 0.0, 0])
                s[0] += 1
                s[1] += elapsed
                s[2] += rss_delta


def empty_loop(n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        pass
    return time.perf_counter_ns() - t0


def codeprof_loop(profiler: codeprof.CodeProfiler, n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        with profiler.profile_operation("op", "data_loading"):
            pass
    return time.perf_counter_ns() - t0


def pure_loop(profiler: PurePythonProfiler, n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        with profiler.profile_operation("op", "data_loading"):
            pass
    return time.perf_counter_ns() - t0


def record_function_loop(n: int) -> float:
    from torch.autograd.profiler import record_function
    t0 = time.perf_counter_ns()
    for _ in range(n):
        with record_function("op"):
            pass
    return time.perf_counter_ns() - t0


def call_loop(fn: Callable[[], None], n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return time.perf_counter_ns() - t0


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="blocks per round (psutil and torch variants: n/10)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args(argv)

    # Rings large enough that no block is dropped while the collector shares the CPU with the loop.
    profiler = codeprof.CodeProfiler(codeprof.Config(sampler_enabled=False, buffer_events_per_thread=1 << 22))
    off = codeprof.CodeProfiler(codeprof.Config(sampler_enabled=False))
    off.disable()
    pure = PurePythonProfiler()
    pure_rss = PurePythonProfiler(with_rss=True)

    @profiler.profile("decorated", "preprocessing")
    def decorated() -> None:
        pass

    def plain() -> None:
        pass

    variants: Dict[str, Callable[[int], float]] = {
        "codeprof_enabled": lambda n: codeprof_loop(profiler, n),
        "codeprof_disabled": lambda n: codeprof_loop(off, n),
        "pure_python": lambda n: pure_loop(pure, n),
        "pure_python_psutil": lambda n: pure_loop(pure_rss, n),
    }
    slow = {"pure_python_psutil"}
    torch_ok = False
    if not args.no_torch:
        try:
            import torch  # noqa: F401
            variants["record_function"] = record_function_loop
            slow.add("record_function")
            torch_ok = True
        except ImportError:
            print("torch not importable: record_function is not measured", file=sys.stderr)

    samples: Dict[str, List[float]] = {k: [] for k in list(variants) + ["codeprof_decorator"]}
    if torch_ok:
        samples["record_function_profiling"] = []
    gc.disable()
    for _ in range(args.rounds):
        for name, run in variants.items():
            n = args.n // 10 if name in slow else args.n
            samples[name].append((run(n) - empty_loop(n)) / n)
        n = args.n
        samples["codeprof_decorator"].append((call_loop(decorated, n) - call_loop(plain, n)) / n)
        if torch_ok:
            import torch
            n = args.n // 10
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]):
                t = record_function_loop(n)
            samples["record_function_profiling"].append((t - empty_loop(n)) / n)
    gc.enable()

    median = {k: statistics.median(v) for k, v in samples.items() if v}
    enabled = median["codeprof_enabled"]
    result = {
        "ns_per_block": {k: round(v, 1) for k, v in median.items()},
        "ratios": {
            "pure_python / codeprof_enabled": round(median["pure_python"] / enabled, 1),
            "pure_python_psutil / codeprof_enabled": round(median["pure_python_psutil"] / enabled, 1),
        },
        "goals": {"codeprof_enabled_ns <= 300": enabled <= 300,
                  "codeprof_disabled_ns <= 100": median["codeprof_disabled"] <= 100,
                  "codeprof_enabled <= pure_python / 5": enabled <= median["pure_python"] / 5},
        "rounds": args.rounds, "n": args.n, "python": sys.version.split()[0],
    }
    if torch_ok:
        result["ratios"]["record_function / codeprof_enabled"] = round(median["record_function"] / enabled, 1)
        result["ratios"]["record_function_profiling / codeprof_enabled"] = round(
            median["record_function_profiling"] / enabled, 1)
        result["goals"]["codeprof_enabled <= record_function / 25"] = enabled <= median["record_function"] / 25

    width = max(len(k) for k in median)
    print(f"one empty block, median of {args.rounds} rounds (the empty loop subtracted):")
    for k, v in median.items():
        print(f"  {k:<{width}}  {v:9.1f} ns")
    print("ratios (how many codeprof scopes one of the others costs):")
    for k, v in result["ratios"].items():
        print(f"  {k:<48} {v:8.1f}x")
    for k, v in result["goals"].items():
        print(f"  goal {k}: {'met' if v else 'NOT met'}")
    snap = profiler.snapshot()
    print(f"(codeprof recorded {snap['op'].count} blocks, dropped {snap.events_dropped})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
