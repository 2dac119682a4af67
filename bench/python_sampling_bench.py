#!/usr/bin/env python3
"""What the Python sampler costs a CPU-bound Python workload, against the same profiler with the
sampler stopped, side by side in one run (the ratio is what counts on a shared machine).

The workload is a pipeline stage written in plain Python (tokenising text, counting words, a
numeric loop over the counts) inside one operation. Rounds alternate sampler off / on (the order
flips every round) so that load from other processes hits both alike. Per round: the wall time of
the stage and the process's CPU time (which includes the sampler thread's own). Reported: the
medians per variant and the median of the per-round ratios on/off (each ratio compares two rounds
run back to back, which is what holds up on a loaded machine); and, measured directly, the sampler
thread's own CPU time (/proc schedstat of `codeprof-python`) against the stage thread's over the
same rounds, and the stage thread's CPU time on/off (what handing over the GIL costs it).

    PYTHONPATH=build/release/python /usr/bin/python3 bench/python_sampling_bench.py [--hz 100] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from typing import Dict, List

import codeprof

WORDS = ["data", "loader", "batch", "token", "model", "page", "score", "link", "title", "meta",
         "crawl", "index", "rank", "query", "cache"]


def make_text(n_words: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randrange(50)) for _ in range(n_words))


def tokenize(text: str) -> List[str]:
    out = []
    for word in text.split():
        w = word.strip(".,;").lower()
        if w:
            out.append(w)
    return out


def count(tokens: List[str]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for t in tokens:
        counts[t] = counts.get(t, 0) + 1
    return counts


def score(counts: Dict[str, int]) -> float:
    total = 0.0
    for word, n in counts.items():
        for i in range(n):
            total += (len(word) * 31 + i) % 7 / (n + 1)
    return total


def stage(profiler: codeprof.CodeProfiler, text: str, repeats: int) -> float:
    result = 0.0
    with profiler.profile_operation("stage", "preprocessing"):
        for _ in range(repeats):
            result += score(count(tokenize(text)))
    return result


def sampler_cpu_s() -> float:
    """CPU time of the running sampler thread (named codeprof-python), from /proc schedstat (ns)."""
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().strip() != "codeprof-python":
                    continue
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                return int(f.read().split()[0]) * 1e-9
        except OSError:
            continue
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hz", type=int, default=100, help="sampling.python_frequency_hz (default 100)")
    ap.add_argument("--rounds", type=int, default=41, help="rounds per variant (default 41)")
    ap.add_argument("--repeats", type=int, default=10, help="stage repeats per round (default 10: ~0.1 s of CPU)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    profiler = codeprof.CodeProfiler(codeprof.Config(sampler_enabled=False, sampling_enabled=True,
                                                     sampling_python_frequency_hz=args.hz))
    profiler.stop_sampling()
    text = make_text(20000, 7)
    stage(profiler, text, 2)  # warm-up

    wall: Dict[str, List[float]] = {"off": [], "on": []}
    cpu: Dict[str, List[float]] = {"off": [], "on": []}
    thread_cpu: Dict[str, List[float]] = {"off": [], "on": []}
    sampler_total = 0.0
    for r in range(args.rounds):
        for variant in (("off", "on") if r % 2 == 0 else ("on", "off")):
            if variant == "on":
                profiler.start_sampling()
            w0, c0, t0 = time.perf_counter(), time.process_time(), time.thread_time()
            stage(profiler, text, args.repeats)
            wall[variant].append(time.perf_counter() - w0)
            cpu[variant].append(time.process_time() - c0)
            thread_cpu[variant].append(time.thread_time() - t0)
            if variant == "on":
                sampler_total += sampler_cpu_s()
                profiler.stop_sampling()

    s = profiler.snapshot()
    samples = s["stage"].cpu_samples
    top = s["stage"].hot_functions[0].function if s["stage"].hot_functions else "-"
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    wall_ratio = statistics.median(on / off for on, off in zip(wall["on"], wall["off"]))
    cpu_ratio = statistics.median(on / off for on, off in zip(cpu["on"], cpu["off"]))
    thread_ratio = statistics.median(on / off for on, off in zip(thread_cpu["on"], thread_cpu["off"]))
    sampler_share = sampler_total / sum(thread_cpu["on"])
    result = {
        "frequency_hz": args.hz,
        "rounds": args.rounds,
        "wall_s_off": med["off"], "wall_s_on": med["on"], "wall_ratio": wall_ratio,
        "cpu_s_off": med_cpu["off"], "cpu_s_on": med_cpu["on"], "cpu_ratio": cpu_ratio,
        "stage_thread_cpu_ratio": thread_ratio, "sampler_cpu_share": sampler_share,
        "samples": samples, "hottest_function": top,
    }
    print(f"Python sampler at {args.hz} Hz, {args.rounds} rounds per variant, medians:")
    print(f"  wall per round   off {med['off'] * 1e3:8.1f} ms   on {med['on'] * 1e3:8.1f} ms   paired ratio {result['wall_ratio']:.3f}")
    print(f"  process CPU      off {med_cpu['off'] * 1e3:8.1f} ms   on {med_cpu['on'] * 1e3:8.1f} ms   paired ratio {result['cpu_ratio']:.3f}")
    print(f"  stage thread CPU paired ratio {thread_ratio:.3f}; sampler thread CPU = {sampler_share * 100:.2f} % of the stage thread's")
    print(f"  {samples} samples in 'stage', hottest function: {top}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
