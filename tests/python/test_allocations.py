"""Allocation sampling from Python: a child Python preloads libcodeprof_alloc.so
(codeprof.alloc_library()) and calls planted C++ allocation sites through ctypes
(tests/python/planted_alloc_library.cpp over tests/sampling/planted_allocations.cpp); the
operations' hot_allocations / live_at_end name those sites, with the same names and values as the
JSON report."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

import codeprof
from conftest import python_env, run_without_preload

PLANTED = os.environ.get("PLANTED_ALLOC_LIBRARY", "")

CHILD = textwrap.dedent('''
    import ctypes, json, os, sys
    import codeprof
    lib = ctypes.CDLL(sys.argv[1])
    lib.codeprof_planted_allocate.argtypes = [ctypes.c_size_t]
    lib.codeprof_planted_leak.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
    p = codeprof.CodeProfiler(codeprof.Config(sampler_enabled=False, sampling_alloc_enabled=True,
                                              sampling_alloc_interval_bytes=64 * 1024))
    with p.profile_operation("build_table", "preprocessing"):
        lib.codeprof_planted_allocate(64 << 20)      # 70 % at the hot line, all freed
    with p.profile_operation("cache_rows", "preprocessing"):
        lib.codeprof_planted_leak(160, 64 * 1024)    # 10 MiB kept at the leak line
    snap = p.snapshot()
    report = os.path.join(sys.argv[2], "report.json")
    p.export_profiling_data(report)
    site = lambda a: {"function": a.function, "file": a.file, "line": a.line, "samples": a.samples,
                      "bytes": a.bytes, "share": a.share}
    ops = {}
    for name in ("build_table", "cache_rows"):
        o = snap[name]
        ops[name] = {"alloc_samples": o.alloc_samples, "alloc_sampled_bytes": o.alloc_sampled_bytes,
                     "live_sampled_bytes": o.live_sampled_bytes,
                     "peak_live_sampled_bytes": o.peak_live_sampled_bytes,
                     "hot_allocations": [site(a) for a in o.hot_allocations],
                     "live_at_end": [site(a) for a in o.live_at_end]}
    print(json.dumps({"ops": ops, "report": report, "hot_line": lib.codeprof_planted_hot_line(),
                      "leak_line": lib.codeprof_planted_leak_line(),
                      "interval": snap.sampling.alloc_interval_bytes}))
''')


@pytest.fixture(scope="module")
def child(tmp_path_factory):
    lib = codeprof.alloc_library()
    assert lib and os.path.isfile(lib), "the package ships libcodeprof_alloc.so"
    if not os.path.isfile(PLANTED):
        pytest.skip("the planted allocation library was not built (run through CTest)")
    env = python_env()
    env["LD_PRELOAD"] = lib
    out_dir = tmp_path_factory.mktemp("alloc")
    out = subprocess.run([sys.executable, "-c", CHILD, PLANTED, str(out_dir)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_hot_allocations_name_the_planted_site(child):
    op = child["ops"]["build_table"]
    assert child["interval"] == 64 * 1024
    # 64 MiB at a mean interval of 64 KiB: about 1000 samples.
    assert op["alloc_samples"] > 500, op["alloc_samples"]
    # The estimate of the bytes allocated (about 64 MiB) within 15 %.
    assert abs(op["alloc_sampled_bytes"] - (64 << 20)) < 0.15 * (64 << 20), op["alloc_sampled_bytes"]
    top = op["hot_allocations"][0]
    assert top["function"].startswith("codeprof::test::hot_allocation"), top
    assert top["file"].endswith("planted_allocations.cpp") and top["line"] == child["hot_line"], top
    assert 0.6 < top["share"] < 0.8, top  # 70 % of the bytes
    assert op["live_sampled_bytes"] == 0  # everything was freed
    assert op["live_at_end"] == []


def test_live_at_end_names_the_planted_leak(child):
    op = child["ops"]["cache_rows"]
    leak = op["live_at_end"][0]
    assert leak["function"].startswith("codeprof::test::leak_planted"), leak
    assert leak["file"].endswith("planted_allocations.cpp") and leak["line"] == child["leak_line"], leak
    assert abs(op["live_sampled_bytes"] - 160 * 64 * 1024) < 0.25 * 160 * 64 * 1024, op["live_sampled_bytes"]
    assert op["peak_live_sampled_bytes"] >= op["live_sampled_bytes"]


def test_the_fields_match_the_json_report(child):
    with open(child["report"]) as f:
        report = {o["name"]: o for o in json.load(f)["operations"]}
    for name, fields in child["ops"].items():
        for key, value in fields.items():
            if key in ("hot_allocations", "live_at_end"):
                got = [{k: s[k] for k in ("function", "file", "line", "samples", "bytes")} for s in report[name][key]]
                assert got == [{k: s[k] for k in ("function", "file", "line", "samples", "bytes")} for s in value]
            else:
                assert report[name][key] == value, (name, key)


def test_without_the_preload_the_snapshot_says_why():
    out = run_without_preload('''
        import codeprof
        p = codeprof.CodeProfiler(codeprof.Config(sampler_enabled=False, sampling_alloc_enabled=True))
        with p.profile_operation("py.alloc", "preprocessing"):
            bytearray(1 << 20)
        s = p.snapshot()
        assert s["py.alloc"].alloc_samples == 0 and s["py.alloc"].hot_allocations == ()
        print([u.reason for u in s.run.unavailable if u.what == "allocation_sampling"])
    ''')
    assert "codeprof.alloc_library()" in out
