"""Python threads: each records on its own ring, named as Python names it; a scope that migrates
between threads is not recorded and says so."""
import threading
import warnings

import pytest

from conftest import quiet


def test_threads_record_exactly_and_are_named():
    p = quiet()
    per_thread = 3000

    def work():
        for i in range(per_thread):
            with p.profile_operation("thr.step", "training_loop"):
                with p.profile_operation("thr.load_" + str(i % 3), "data_loading"):
                    pass

    threads = [threading.Thread(target=work, name=f"loader-{k}") for k in range(6)]
    for t in threads:
        t.start()
    work()
    for t in threads:
        t.join()
    s = p.snapshot()
    assert s["thr.step"].count == 7 * per_thread
    assert sum(s[f"thr.load_{k}"].count for k in range(3)) == 7 * per_thread
    assert s.events_dropped == 0
    names = {t.name for t in s.threads}
    assert {"MainThread", "loader-0", "loader-5"} <= names
    loader = next(t for t in s.threads if t.name == "loader-3")
    assert loader.events == 2 * per_thread
    assert {o.operation_id for o in loader.operations} >= {s["thr.step"].id}


def test_a_name_set_before_the_first_scope_is_kept():
    # The first scope on a thread names it after threading.current_thread(), unless the program
    # named the thread itself first; later set_thread_name calls rename it.
    p = quiet()

    def work(before, after):
        if before:
            p.set_thread_name(before)
        with p.profile_operation("thr.named", "training_loop"):
            pass
        if after:
            p.set_thread_name(after)
        with p.profile_operation("thr.named", "training_loop"):
            pass

    runs = [("early", None), (None, "late"), ("first", "second"), (None, None)]
    threads = [threading.Thread(target=work, args=run, name=f"py-{k}") for k, run in enumerate(runs)]
    for t in threads:
        t.start()
        t.join()
    names = {t.name for t in p.snapshot().threads}
    assert {"early", "late", "second", "py-3"} <= names, names
    assert not {"py-0", "py-1", "py-2", "first"} & names, names


def test_a_scope_that_migrates_is_not_recorded_and_nesting_heals():
    p = quiet()
    scope = p.profile_operation("thr.migrates", "io")
    with p.profile_operation("thr.outer", "training_loop"):
        scope.__enter__()
        done = []

        def finish_elsewhere():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                scope.__exit__(None, None, None)
            done.extend(caught)

        t = threading.Thread(target=finish_elsewhere)
        t.start()
        t.join()
    with p.profile_operation("thr.after", "training_loop"):
        pass
    s = p.snapshot()
    assert "thr.migrates" not in s
    assert s["thr.outer"].count == 1 and s["thr.after"].count == 1
    top_level = {e.child_id for e in s.call_tree if e.parent_id is None}
    assert s["thr.after"].id in top_level
    assert not scope.active


def test_decorated_functions_from_many_threads():
    p = quiet()

    @p.profile("thr.decorated", "preprocessing")
    def work(n):
        return sum(range(n))

    results = []
    threads = [threading.Thread(target=lambda: results.append([work(10) for _ in range(500)])) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    assert p.snapshot()["thr.decorated"].count == 2000
