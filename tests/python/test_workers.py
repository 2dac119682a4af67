"""Work recorded in DataLoader worker processes and multiprocessing children reaches the parent's
profiler, per worker, by the time the iterator is exhausted (fork and spawn, persistent or not)."""
import multiprocessing
import os
import subprocess
import sys
import textwrap
import time

import pytest

import codeprof
from conftest import python_env, quiet

torch = pytest.importorskip("torch")
import codeprof.torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

ITEMS, BATCH = 48, 8


class Pages(Dataset):
    """A dataset that records its own work, holding the profiler (so a spawned worker gets it)."""

    def __init__(self, profiler):
        self.profiler = profiler

    def __len__(self):
        return ITEMS

    def __getitem__(self, i):
        with self.profiler.profile_operation("wk.load_item", "data_loading"):
            with self.profiler.profile_operation("wk.tokenize", "preprocessing"):
                total = sum(range(1000 + i))
            return torch.tensor([i, total])


class Collate:
    def __init__(self, profiler):
        self.profiler = profiler

    def __call__(self, batch):
        with self.profiler.profile_operation("wk.collate", "preprocessing"):
            return torch.stack(batch)


class InitWorker:
    def __init__(self, profiler):
        self.profiler = profiler

    def __call__(self, worker_id):
        with self.profiler.profile_operation("wk.worker_init", "data_loading"):
            pass


def run_epochs(method, persistent, epochs=2, workers=2):
    p = quiet()
    loader = DataLoader(Pages(p), batch_size=BATCH, num_workers=workers, collate_fn=Collate(p),
                        worker_init_fn=InitWorker(p), multiprocessing_context=method,
                        persistent_workers=persistent)
    wrapped = codeprof.torch.profile_dataloader(loader, p)
    seen = []
    for _ in range(epochs):
        batches = sum(1 for _ in wrapped)
        s = p.snapshot()  # right after the iterator is exhausted
        seen.append((batches, s["wk.load_item"].count, s["wk.collate"].count))
    return p, s, seen


@pytest.mark.parametrize("method,persistent", [("fork", False), ("fork", True), ("spawn", True)])
def test_dataloader_workers_report_to_the_parent(method, persistent):
    p, s, seen = run_epochs(method, persistent)
    batches = ITEMS // BATCH
    assert seen == [(batches, ITEMS, batches), (batches, 2 * ITEMS, 2 * batches)]
    assert s["wk.tokenize"].count == 2 * ITEMS
    assert s["next_batch"].count == 2 * (batches + 1)
    assert s["next_batch"].category == "data_loading"
    starts = 2 if persistent else 4
    assert s["wk.worker_init"].count == starts
    workers = [t for t in s.threads if t.name.startswith("dataloader worker ")]
    assert len(workers) == starts
    assert all(t.name.endswith(")") and "(pid " in t.name for t in workers)
    assert {t.name.split(" (")[0] for t in workers} == {"dataloader worker 0", "dataloader worker 1"}
    assert sum(t.events for t in workers) == s.events_recorded - s["next_batch"].count
    # Nesting inside the workers survives the merge: tokenize is called from load_item.
    edges = {(e.parent_id, e.child_id): e.count for e in s.call_tree}
    assert edges[(s["wk.load_item"].id, s["wk.tokenize"].id)] == 2 * ITEMS
    status = p.processes()
    assert status["processes"] == starts and status["updates_dropped"] == 0 and status["updates_malformed"] == 0
    report = s.report()
    assert any(t["name"].startswith("dataloader worker 1") for t in report["threads"])


def test_without_workers_loading_runs_inside_next(profiler):
    loader = DataLoader(Pages(profiler), batch_size=BATCH, num_workers=0, collate_fn=Collate(profiler))
    assert sum(1 for _ in codeprof.torch.profile_dataloader(loader, profiler)) == ITEMS // BATCH
    s = profiler.snapshot()
    edges = {(e.parent_id, e.child_id): e.count for e in s.call_tree}
    assert edges[(s["next_batch"].id, s["wk.load_item"].id)] == ITEMS
    assert [t.name for t in s.threads] == ["MainThread"]


def test_reset_reaches_the_workers():
    p = quiet()
    loader = DataLoader(Pages(p), batch_size=BATCH, num_workers=1, collate_fn=Collate(p),
                        multiprocessing_context="fork", persistent_workers=True)
    wrapped = codeprof.torch.profile_dataloader(loader, p)
    assert sum(1 for _ in wrapped) == ITEMS // BATCH
    assert p.snapshot()["wk.load_item"].count == ITEMS
    p.reset()
    assert "wk.load_item" not in p.snapshot()
    # The idle worker follows the reset as soon as the notice arrives, and says so with an update.
    deadline = time.monotonic() + 30
    while p.processes()["processes"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sum(1 for _ in wrapped) == ITEMS // BATCH
    s = p.snapshot()
    assert s["wk.load_item"].count == ITEMS  # the second epoch only
    assert p.processes()["generation"] == 1


def square(x):
    p = codeprof.default_profiler()
    with p.profile_operation("wk.pool_square", "cpu"):
        return x * x


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_pool_children_report_to_the_parent(method):
    parent = codeprof.default_profiler()
    parent.reset()
    pool = multiprocessing.get_context(method).Pool(2)
    assert pool.map(square, range(20)) == [x * x for x in range(20)]
    pool.close()  # workers that exit (not terminate()) send their last update on the way out
    pool.join()
    s = parent.snapshot()
    assert s["wk.pool_square"].count == 20
    names = {t.name for t in s.threads if "Pool" in t.name}
    assert names and all("PoolWorker" in n and "(pid " in n for n in names)


SCRIPT = textwrap.dedent("""
    import sys
    import codeprof, codeprof.torch, torch
    from torch.utils.data import DataLoader, Dataset

    profiler = codeprof.CodeProfiler(sampler_enabled=False)   # module level: re-created in spawned workers

    class Items(Dataset):
        def __len__(self):
            return 40
        def __getitem__(self, i):
            with profiler.profile_operation("script.item", "data_loading"):
                return torch.tensor(i)

    if __name__ == "__main__":
        loader = DataLoader(Items(), batch_size=4, num_workers=2, multiprocessing_context="spawn")
        for batch in codeprof.torch.profile_dataloader(loader, profiler):
            pass
        s = profiler.snapshot()
        print(s["script.item"].count, sorted(t.name.split(" (")[0] for t in s.threads))
    """)


def test_spawned_workers_find_a_module_level_profiler(tmp_path):
    script = tmp_path / "pipeline.py"
    script.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(script)], env=python_env(), capture_output=True, text=True,
                         timeout=180, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "40 ['MainThread', 'dataloader worker 0', 'dataloader worker 1']", out.stdout


def test_a_program_merely_started_by_the_parent_keeps_its_own_profile(tmp_path):
    quiet()  # a profiler in this process publishes its channel to children
    code = ("import codeprof\n"
            "p = codeprof.CodeProfiler(sampler_enabled=False)\n"
            "with p.profile_operation('own.work', 'io'):\n"
            "    pass\n"
            "import time; time.sleep(0.6)\n"
            "print(p.snapshot()['own.work'].count, p._parent_channel)\n")
    out = subprocess.run([sys.executable, "-c", code], env=python_env(), capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["1", "None"], out.stderr


class SlowParse(Dataset):
    """Loader workers whose only scope is the Dataset's preprocessing (no data_loading scope)."""

    def __init__(self, profiler):
        self.profiler = profiler

    def __len__(self):
        return 32

    def __getitem__(self, i):
        with self.profiler.profile_operation("wk.parse_page", "preprocessing"):
            time.sleep(0.003)
            return torch.zeros(4)


def test_worker_processes_count_as_loader_workers_in_the_advice():
    # With num_workers=2 the advice must not say "now 0 workers": a worker process whose scopes are
    # the Dataset's preprocessing is a loader worker.
    p = quiet()
    loader = codeprof.torch.profile_dataloader(
        DataLoader(SlowParse(p), batch_size=4, num_workers=2, multiprocessing_context="fork"), p)
    for batch in loader:
        with p.profile_operation("wk.train_step", "training_loop"):
            batch.sum()
    assert p.snapshot()["wk.parse_page"].count == 32
    for rec in p.get_performance_recommendations():
        if rec["id"] == "input-bound-workers":
            current = [e["value"] for e in rec["evidence"] if e["metric"] == "loader_worker_threads"]
            assert current and current[0] >= 2, str(rec)
