"""Python-level line sampling: with sampling.enabled, a sampler thread takes the Python stack of each
recording thread per period of its CPU time and attributes it to the operations open on it."""
import os
import random
import subprocess
import sys
import textwrap
import threading
import time

import codeprof
from conftest import python_env, spin

HERE = os.path.abspath(__file__)


def sampling_profiler(**settings):
    settings.setdefault("sampling_python_frequency_hz", 250)
    return codeprof.CodeProfiler(codeprof.Config(sampler_enabled=False, sampling_enabled=True, **settings))


def shuffled(n, seed):
    items = list(range(n))
    random.Random(seed).shuffle(items)
    return items


HOT = shuffled(6000, 1)
COLD = shuffled(2400, 2)


def planted_stage(rounds):
    for _ in range(rounds):
        sorted(HOT)  # planted hot line
        sorted(COLD)  # the rest


def planted_share(seconds):
    """The planted line's share of the stage's CPU time, timed line by line (the truth the sampled
    share is compared with; the timing calls stay out of the sampled loop, where they would take
    samples of their own)."""
    hot = 0.0
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        t = time.thread_time()
        sorted(HOT)
        hot += time.thread_time() - t
        sorted(COLD)
    return hot / (time.thread_time() - start)


def line_of(marker):
    with open(HERE) as f:
        return next(i for i, text in enumerate(f, 1) if text.rstrip().endswith("# " + marker))


def test_planted_hot_line_ranks_first_with_its_share():
    # A sample needs the GIL (about one per switch interval, 5 ms): ~2.5 s of CPU gives a few hundred
    # distinct observations: a standard deviation of 3-5 points around the true share.
    truth = planted_share(0.5)
    p = sampling_profiler(sampling_python_frequency_hz=500)
    assert p.sampling
    with p.profile_operation("stage", "preprocessing"):
        planted_stage(4000)
    op = p.snapshot()["stage"]
    assert 0.55 < truth < 0.9, f"the planted line should take most of the time, took {truth:.2f}"
    assert op.cpu_samples >= 50, op.cpu_samples
    top = op.hot_lines[0]
    assert (top.function, top.file, top.line) == ("planted_stage", HERE, line_of("planted hot line")), op.hot_lines
    assert abs(top.share - truth) <= 0.10, f"sampled share {top.share:.3f}, measured {truth:.3f}"
    assert op.hot_functions[0].function == "planted_stage"
    sources = {s.name: s for s in p.snapshot().sampling.sources}
    assert set(sources) == {"python"}, "the native sampler does not run for Python programs (sampling.native = auto)"
    assert sources["python"].frequency_hz == 500
    p.stop_sampling()
    assert not p.sampling


def test_report_and_exports_carry_python_lines(tmp_path):
    import json
    p = sampling_profiler(export_formats=["json", "folded", "pprof"])
    with p.profile_operation("stage", "preprocessing"):
        planted_stage(400)
    paths = p.export_all(str(tmp_path))
    p.stop_sampling()
    report = json.load(open(next(x for x in paths if x.endswith(".json"))))
    op = next(o for o in report["operations"] if o["name"] == "stage")
    assert op["hot_lines"] and op["hot_lines"][0]["function"] == "planted_stage"
    assert any(s["name"] == "python" for s in report["sampling"]["sources"])
    folded = open(next(x for x in paths if "folded" in x)).read()
    assert "planted_stage" in folded and "stage" in folded
    assert os.path.getsize(next(x for x in paths if x.endswith(".pb.gz") or "pprof" in x)) > 0


def busy_a(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def busy_b(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_threads_are_attributed_to_their_own_operations():
    p = sampling_profiler()

    def worker(name, busy):
        with p.profile_operation(name, "preprocessing"):
            for _ in range(30):
                busy(0.01)

    threads = [threading.Thread(target=worker, args=("work_a", busy_a)),
               threading.Thread(target=worker, args=("work_b", busy_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = p.snapshot()
    p.stop_sampling()
    for name, fn in (("work_a", "busy_a"), ("work_b", "busy_b")):
        op = s[name]
        assert op.cpu_samples > 0, name
        assert {h.function for h in op.hot_functions} == {fn}, op.hot_functions
    assert s.sampling.sources[0].threads == 2


def test_disable_and_stop_take_no_more_samples_and_reset_forgets():
    p = sampling_profiler()
    with p.profile_operation("stage", "preprocessing"):
        spin(0.2)
    before = p.snapshot().sampling.samples
    assert before > 0
    p.disable()
    while_disabled = p.snapshot().sampling.samples
    spin(0.3)
    assert p.snapshot().sampling.samples == while_disabled
    p.enable()
    with p.profile_operation("stage", "preprocessing"):
        spin(0.2)
    assert p.snapshot().sampling.samples > while_disabled
    p.reset()
    with p.profile_operation("after_reset", "preprocessing"):
        spin(0.2)
    s = p.snapshot()
    assert "stage" not in s and s["after_reset"].cpu_samples > 0
    p.stop_sampling()
    stopped = p.snapshot().sampling.samples
    with p.profile_operation("after_reset", "preprocessing"):
        spin(0.2)
    assert p.snapshot().sampling.samples == stopped
    p.start_sampling()
    assert p.sampling
    del p  # the sampler stops with its profiler


def test_sampling_off_starts_no_sampler():
    p = codeprof.CodeProfiler(codeprof.Config(sampler_enabled=False))
    assert not p.sampling
    with p.profile_operation("stage", "preprocessing"):
        spin(0.05)
    assert p.snapshot()["stage"].cpu_samples == 0


def test_exit_with_sampling_threads_running():
    script = textwrap.dedent("""
        import threading, codeprof
        from conftest import spin
        p = codeprof.CodeProfiler(codeprof.Config(sampler_enabled=False, sampling_enabled=True,
                                                  sampling_python_frequency_hz=1000))
        def forever():
            with p.profile_operation("daemon_work", "preprocessing"):
                while True:
                    spin(0.001)
        threading.Thread(target=forever, daemon=True).start()
        with p.profile_operation("main_work", "preprocessing"):
            spin(0.2)
        assert p.snapshot()["main_work"].cpu_samples > 0
        print("exiting")
    """)
    env = python_env()
    env["PYTHONPATH"] = os.path.dirname(HERE) + os.pathsep + env["PYTHONPATH"]
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "exiting"
