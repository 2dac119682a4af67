"""The API of the issue, end to end: scopes, decorator, switches, results, exports, dashboard."""
import asyncio
import json
import os
import subprocess
import sys
import urllib.request

import pytest

import codeprof
from conftest import python_env, quiet, spin


def counts(snapshot):
    return {op.name: op.count for op in snapshot.operations}


def test_nested_scopes_record_counts_self_time_and_the_call_tree(profiler):
    for _ in range(50):
        with profiler.profile_operation("api.step", "training_loop"):
            with profiler.profile_operation("api.load", codeprof.Category.DATA_LOADING):
                spin(0.0002)
            spin(0.0001)
    s = profiler.snapshot()
    step, load = s["api.step"], s["api.load"]
    assert (step.count, load.count) == (50, 50)
    assert step.category == codeprof.Category.TRAINING_LOOP == "training_loop"
    assert load.category is codeprof.Category.DATA_LOADING
    assert load.min_ns >= 200_000 and step.total_ns > load.total_ns
    assert step.self_ns <= step.total_ns - load.total_ns
    assert load.self_ns == load.total_ns
    assert sum(b.count for b in load.histogram) == 50
    assert load.p50_ns <= load.p95_ns <= load.p99_ns <= load.max_ns
    assert load.mean_s == pytest.approx(load.mean_ns * 1e-9)
    edges = {(e.parent_id, e.child_id): e.count for e in s.call_tree}
    assert edges[(step.id, load.id)] == 50
    assert edges[(None, step.id)] == 50
    assert "api.load" in s and s.find("nope") is None and s.find(load.id).name == "api.load"
    with pytest.raises(KeyError):
        s["nope"]
    assert s.events_recorded == 100 and s.events_dropped == 0
    assert s.run.pid == os.getpid() and s.run.source == "live" and s.run.wall_s > 0


def test_category_defaults_to_custom_and_keywords_work(profiler):
    with profiler.profile_operation("api.plain"):
        pass
    with profiler.profile_operation(name="api.kw", category="io"):
        pass
    s = profiler.snapshot()
    assert s["api.plain"].category == "custom"
    assert s["api.kw"].category == "io"


def test_bad_category_and_name_are_clear_errors(profiler):
    with pytest.raises(ValueError) as e:
        profiler.profile_operation("x", "dataloading")
    assert "'dataloading'" in str(e.value) and "data_loading" in str(e.value)
    with pytest.raises(TypeError, match="category"):
        profiler.profile_operation("x", 3.5)
    with pytest.raises(TypeError, match="name must be a str"):
        profiler.profile_operation(42, "io")
    with pytest.raises(ValueError, match="unknown category"):
        profiler.profile("x", "nope")
    with pytest.raises(TypeError):
        profiler.profile_operation("x", "io", "extra")
    assert profiler.snapshot().events_recorded == 0


def test_exceptions_propagate_and_the_scope_still_ends(profiler):
    with pytest.raises(KeyError):
        with profiler.profile_operation("api.outer", "training_loop"):
            with profiler.profile_operation("api.fails", "preprocessing"):
                raise KeyError("boom")
    with profiler.profile_operation("api.after", "training_loop"):
        pass
    s = profiler.snapshot()
    assert counts(s) == {"api.outer": 1, "api.fails": 1, "api.after": 1}
    edges = {(e.parent_id, e.child_id) for e in s.call_tree}
    assert (None, s["api.after"].id) in edges  # nesting healed: not a child of the failed block


def test_a_scope_object_is_reusable_but_not_reentrant(profiler):
    op = profiler.profile_operation("api.reused", "io")
    for _ in range(3):
        with op:
            assert op.active
    assert not op.active
    with pytest.raises(RuntimeError, match="already open"):
        with op:
            with op:
                pass
    assert profiler.snapshot()["api.reused"].count == 4


def test_decorator_on_functions_methods_generators_and_coroutines(profiler):
    @profiler.profile("api.tokenize", "preprocessing")
    def tokenize(text):
        """Splits."""
        return text.split()

    @profiler.profile
    def bare(x):
        return x * 2

    class Model:
        @profiler.profile(category="model_inference")
        def forward(self, x):
            return x + 1

        @staticmethod
        @profiler.profile("api.static")
        def static(x):
            return x

    @profiler.profile("api.gen", "data_loading")
    def batches(n):
        for i in range(n):
            spin(0.0001)
            yield i

    @profiler.profile("api.coro", "io")
    async def fetch(x):
        await asyncio.sleep(0)
        return x

    @profiler.profile("api.raises")
    def raises():
        raise ValueError("no")

    assert tokenize("a b") == ["a", "b"] and tokenize.__name__ == "tokenize" and tokenize.__doc__ == "Splits."
    assert bare(2) == 4
    assert Model().forward(1) == 2 and Model.static(3) == 3
    assert list(batches(4)) == [0, 1, 2, 3]
    assert asyncio.run(fetch(7)) == 7
    with pytest.raises(ValueError):
        raises()
    s = profiler.snapshot()
    c = counts(s)
    assert c["api.tokenize"] == 1 and s["api.tokenize"].category == "preprocessing"
    assert c["test_decorator_on_functions_methods_generators_and_coroutines.<locals>.bare"] == 1
    forward = [op for op in s.operations if op.name.endswith("Model.forward")]
    assert forward and forward[0].category == "model_inference"
    assert c["api.static"] == 1
    assert c["api.gen"] == 5  # four items and the final step that ends the generator
    assert s["api.gen"].min_ns >= 0 and s["api.gen"].total_ns >= 4 * 100_000
    assert c["api.coro"] == 1 and c["api.raises"] == 1


def test_profile_iter_times_each_next(profiler):
    items = list(profiler.profile_iter(iter(range(5)), "api.next", "data_loading"))
    assert items == [0, 1, 2, 3, 4]
    assert profiler.snapshot()["api.next"].count == 6  # five items and the StopIteration


def test_switches(profiler):
    profiler.disable()
    assert not profiler.enabled
    with profiler.profile_operation("api.off", "io") as scope:
        assert not scope.active
    profiler.enable()
    profiler.set_category_enabled("io", False)
    assert not profiler.category_enabled(codeprof.Category.IO)
    with profiler.profile_operation("api.io", "io"):
        pass
    with profiler.profile_operation("api.cpu", "cpu"):
        pass
    profiler.set_category_enabled("io", True)
    with profiler.profile_operation("api.io", "io"):
        pass
    assert counts(profiler.snapshot()) == {"api.cpu": 1, "api.io": 1}
    profiler.reset()
    assert profiler.snapshot().operations == ()
    profiler.set_thresholds("io", 0.5, 2.0)
    assert profiler.config.thresholds.io.warning == 0.5
    with pytest.raises(codeprof.ConfigError, match="thresholds.io.warning"):
        profiler.set_thresholds("io", 3.0, 2.0)


def test_bottlenecks_and_recommendations_are_dicts_that_read_well():
    p = quiet(thresholds={"preprocessing": {"warning": 0.001, "critical": 0.002}})
    for _ in range(5):
        with p.profile_operation("api.slow_tokenize", "preprocessing"):
            spin(0.003)
    bottlenecks = p.get_bottlenecks(threshold_duration=0.001)
    assert bottlenecks and bottlenecks[0]["operation"] == "api.slow_tokenize"
    b = bottlenecks[0]
    assert isinstance(b, dict) and b.operation == b["operation"]
    assert set(b) == {"operation", "type", "avg_duration", "optimization_priority", "severity", "p95_duration",
                      "calls", "total_time", "self_time", "share_of_wall", "reason"}
    assert b["type"] == "preprocessing" and b["optimization_priority"] == "high" and b["severity"] == "critical"
    assert b["avg_duration"] >= 0.003 and b["calls"] == 5
    assert "api.slow_tokenize" in str(b) and "[high]" in str(b)
    assert p.get_bottlenecks(threshold_duration=10.0) == []

    recs = p.get_performance_recommendations()
    assert recs, "a preprocessing operation taking most of the run is a finding"
    r = recs[0]
    assert set(r) == {"id", "type", "priority", "title", "evidence", "evidence_text", "action"}
    assert r["evidence"] and set(r["evidence"][0]) == {"metric", "value", "unit", "operation"}
    text = str(r)
    assert r["title"] in text and r["action"] in text and r["id"] in text
    findings = p.analyze()
    assert findings.bottlenecks[0]["operation"] == b["operation"] and findings.recommendations[0]["id"] == r["id"]
    assert "== Top bottlenecks" in str(findings) and "api.slow_tokenize" in str(findings)


def test_exports_use_the_cpp_report_schema(tmp_path):
    p = quiet(output_dir=str(tmp_path / "out"))
    with p.profile_operation("api.export", "io"):
        spin(0.001)
    path = p.export_profiling_data(str(tmp_path / "report.json"))
    assert path == str(tmp_path / "report.json")
    report = json.load(open(path))
    assert report["schema_version"] == 1
    for key in ("run", "operations", "bottlenecks", "recommendations", "classification", "trends", "timeline",
                "call_tree", "threads", "event_counts"):
        assert key in report
    op = report["operations"][0]
    assert op["name"] == "api.export" and op["type"] == "io" and op["count"] == 1
    assert op["total_time"] >= 0.001
    # The same keys as the dicts the API returns.
    p2 = quiet(thresholds={"io": {"warning": 0.0001, "critical": 0.0002}})
    with p2.profile_operation("api.export", "io"):
        spin(0.001)
    report2 = json.loads(p2.snapshot().to_json(p2.config))
    assert set(report2["bottlenecks"][0]) == set(p2.get_bottlenecks()[0])
    paths = p.export_all()
    assert {os.path.splitext(x)[1] for x in paths} == {".json", ".csv", ".prom", ".html"}
    assert all(x.startswith(str(tmp_path / "out")) and os.path.getsize(x) > 100 for x in paths)
    extra = p.export_all(str(tmp_path / "meta"), metadata={"batch_size": "32"}, formats=["json"])
    assert json.load(open(extra[0]))["run"]["metadata"]["batch_size"] == "32"
    with pytest.raises(codeprof.WriteError):
        p.export_profiling_data("/proc/definitely/not/writable/report.json")


def test_snapshot_reports_and_exports_without_a_profiler(profiler, tmp_path):
    with profiler.profile_operation("api.snap", "cpu"):
        pass
    s = profiler.snapshot()
    assert s.report()["operations"][0]["name"] == "api.snap"
    paths = s.export(str(tmp_path), formats=["csv"])
    assert "api.snap" in open(paths[0]).read()
    assert isinstance(codeprof.analyze(s), codeprof.Findings)


def test_exports_into_a_file_are_refused_and_a_dotted_name_becomes_a_directory(profiler, tmp_path):
    # export_all and Snapshot.export write several files: their argument is always a directory.
    with profiler.profile_operation("api.target", "io"):
        pass
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's notes\n")
    attempts = [lambda: profiler.export_all(str(victim)),
                lambda: profiler.export_all(str(victim), formats=["json", "html"]),
                lambda: profiler.snapshot().export(str(victim))]
    for attempt in attempts:
        with pytest.raises(codeprof.WriteError) as refused:
            attempt()
        assert str(victim) in str(refused.value) and "not a directory" in str(refused.value)
        assert isinstance(refused.value, OSError)
    assert victim.read_text() == "the user's notes\n"
    assert sorted(os.listdir(tmp_path)) == ["victim.txt"]

    paths = profiler.export_all(str(tmp_path / "reports.v2"), formats=["json", "csv", "html"])
    assert (tmp_path / "reports.v2").is_dir() and len(set(paths)) == 3
    assert all(os.path.dirname(x) == str(tmp_path / "reports.v2") for x in paths)
    snap_paths = profiler.snapshot().export(str(tmp_path / "snap.d"), ["json", "chrome"])
    assert (tmp_path / "snap.d").is_dir() and len(set(snap_paths)) == 2


def test_serve_runs_the_live_dashboard(profiler):
    with profiler.profile_operation("api.served", "model_inference"):
        pass
    dashboard = profiler.serve(port=0)
    try:
        assert dashboard.port > 0 and dashboard.url.startswith("http://127.0.0.1:")
        ops = json.load(urllib.request.urlopen(dashboard.url + "api/operations", timeout=10))
        assert [o["name"] for o in ops["operations"]] == ["api.served"]
        page = urllib.request.urlopen(dashboard.url, timeout=10).read()
        assert b"<html" in page.lower()
    finally:
        dashboard.stop()
    assert not dashboard.running
    with pytest.raises(codeprof.DashboardError):
        profiler.serve(host="0.0.0.0", port=0)  # reachable from elsewhere needs a token
    with pytest.raises(ValueError, match="port"):
        profiler.serve(port=70000)


def test_default_profiler_is_one_per_process_and_exports_at_exit(tmp_path):
    assert codeprof.default_profiler() is codeprof.default_profiler()
    code = ("import codeprof\n"
            "p = codeprof.default_profiler()\n"
            "with p.profile_operation('api.at_exit', 'io'):\n"
            "    pass\n")
    env = python_env()
    env.update(CODEPROF_OUTPUT_EXPORT_ON_EXIT="1", CODEPROF_OUTPUT_DIR=str(tmp_path),
               CODEPROF_OUTPUT_FORMATS="json", CODEPROF_SAMPLER_ENABLED="0")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    reports = [f for f in os.listdir(tmp_path) if f.endswith(".json")]
    assert len(reports) == 1, (os.listdir(tmp_path), done.stderr)
    report = json.load(open(tmp_path / reports[0]))
    assert [o["name"] for o in report["operations"]] == ["api.at_exit"]


def test_profiler_keyword_settings_and_repr():
    p = codeprof.Profiler(sampler_enabled=False, trace_enabled=True)
    assert codeprof.Profiler is codeprof.CodeProfiler
    assert p.config.trace.enabled is True and "enabled" in repr(p)
    with pytest.raises(codeprof.ConfigError, match="sampler.interval_ms"):
        codeprof.CodeProfiler(sampler_interval_ms=1)
    with pytest.raises(TypeError, match="codeprof.Config"):
        codeprof.CodeProfiler({"enabled": True})
