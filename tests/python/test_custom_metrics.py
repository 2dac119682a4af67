"""The program's own metrics from Python: add_counter, record_value and set_gauge on the profiler,
from several threads, exactly, into the snapshot and the JSON report."""
import json
import math
import os
import threading

import pytest

from conftest import quiet


def test_counters_values_and_gauges_from_threads(tmp_path):
    p = quiet()
    per_thread = 2000

    def work(k):
        for i in range(per_thread):
            p.add_counter("pages_scored", 2, unit="pages")
            p.record_value("loss", 1.0 / (1 + i))
            p.set_gauge("queue_depth", k, unit="items")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = p.snapshot()
    pages = s.metric("pages_scored")
    assert pages.kind == "counter" and pages.unit == "pages"
    assert pages.count == 4 * per_thread
    assert pages.last == 2.0 * 4 * per_thread
    loss = s.metric("loss")
    assert loss.kind == "value"
    assert loss.max == 1.0 and loss.min == pytest.approx(1.0 / per_thread)
    assert loss.p50 == pytest.approx(2.0 / per_thread, rel=0.02)
    assert sum(w.count for w in loss.series) == loss.count
    assert s.metric("queue_depth").kind == "gauge"
    assert [m.name for m in s.custom_metrics] == ["loss", "pages_scored", "queue_depth"]

    report = json.loads(open(p.export_profiling_data(str(tmp_path / "r.json"))).read())
    by_name = {m["name"]: m for m in report["custom_metrics"]}
    assert by_name["pages_scored"]["count"] == 4 * per_thread
    assert by_name["loss"]["kind"] == "value" and math.isfinite(by_name["loss"]["p99"])


def test_calls_that_do_not_fit_are_counted():
    p = quiet()
    p.add_counter("tokens", 5)
    p.set_gauge("tokens", 1)  # another kind than its first use
    p.add_counter("tokens", -1)  # counters only grow
    m = p.snapshot().metric("tokens")
    assert m.count == 1 and m.sum == 5 and m.rejected == 2
    with pytest.raises((TypeError, ValueError)):
        p.record_value("loss", "high")  # not a number: refused before it reaches the profiler


def test_every_csv_export_writes_the_custom_metrics_table(tmp_path):
    # docs/METRICS.md: with the csv format, the exports also write profiling_custom_metrics_<time>.csv,
    # whichever way they are asked for.
    p = quiet(output_formats=["csv"])
    p.set_gauge("queue_depth", 7, unit="items")
    with p.profile_operation("tokenize", "preprocessing"):
        pass
    ways = {
        "plain": lambda d: p.export_all(d),
        "formats": lambda d: p.export_all(d, formats=["csv"]),
        "metadata": lambda d: p.export_all(d, metadata={"batch_size": "32"}),
        "snapshot": lambda d: p.snapshot().export(d, ["csv"]),
    }
    for way, export in ways.items():
        paths = export(str(tmp_path / way))
        names = sorted(os.path.basename(x) for x in paths)
        assert len(names) == 2 and names[0].startswith("profiling_custom_metrics_"), (way, names)
        assert names[1].startswith("profiling_operations_"), (way, names)
        table = open(next(x for x in paths if "custom_metrics" in x)).read()
        assert "queue_depth" in table and "items" in table, (way, table)
        assert sorted(os.listdir(tmp_path / way)) == names, way

