"""codeprof for PyTorch pipelines.

- ``capture_ops(profiler)``: every aten operator and autograd node becomes an operation, nested under
  the Python scope that ran it (the C++ RecordFunction observer, on the same per-thread rings).
- ``profile_dataloader(loader, profiler)``: the time the training loop waits in ``next()`` is
  data_loading, and what the DataLoader's worker processes record (in ``__getitem__``, ``collate_fn``,
  ``worker_init_fn``) reaches the profiler after every batch, one thread per worker.
- ``trace_handler(...)``: for ``torch.profiler.profile(on_trace_ready=...)``: runs codeprof's analysis
  on the Kineto trace the PyTorch profiler writes, and writes codeprof's reports next to it.

Importing this module imports torch; ``import codeprof`` alone never does.
"""
from __future__ import annotations

import os
import socket
import tempfile
import time
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Union

import torch  # noqa: F401 - loads libtorch (the one Debian's python3-torch and codeprof share)

from . import _codeprof, _processes
from ._categories import Category
from ._config import Config
from ._findings import Findings
from ._profiler import CodeProfiler, _category, default_profiler
from ._snapshots import Snapshot, analyze, read_trace

__all__ = ["capture_ops", "OperatorCapture", "profile_dataloader", "ProfiledDataLoader", "trace_handler",
           "TraceHandler"]


# ---------------------------------------------------------------- operators

class OperatorCapture:
    """Records libtorch operators until closed (or the ``with`` block ends). One at a time per process."""

    def __init__(self, profiler: CodeProfiler, sample_rate: float, operators: bool, autograd: bool,
                 category: Category) -> None:
        from . import _codeprof_torch
        index = list(Category).index(category)
        self.profiler = profiler
        self._recorded_at_close: Optional[int] = None
        self._observer = _codeprof_torch._TorchObserver(profiler, _codeprof._profiler_address(profiler),
                                                        float(sample_rate), bool(operators), bool(autograd), index)

    @property
    def active(self) -> bool:
        return bool(self._observer.active)

    @property
    def recorded(self) -> int:
        """Operator calls recorded (after sampling), until closed."""
        if self._recorded_at_close is not None:
            return self._recorded_at_close
        return int(self._observer.recorded)

    def close(self) -> None:
        """Stops recording operators (idempotent)."""
        if self._recorded_at_close is None and self._observer.active:
            self._recorded_at_close = int(self._observer.recorded)
        self._observer.close()

    def __enter__(self) -> "OperatorCapture":
        return self

    def __exit__(self, *exc: Any) -> bool:
        self.close()
        return False

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def capture_ops(profiler: Optional[CodeProfiler] = None, sample_rate: float = 1.0, operators: bool = True,
                autograd: bool = True, category: Union[str, Category] = "cpu") -> OperatorCapture:
    """Records every aten operator (``aten::addmm``) and autograd node (``AddmmBackward0``) as an
    operation of `category`, nested under the enclosing codeprof scope of the thread that runs it, so
    the call tree shows which operators each pipeline stage spends its time in.

    `sample_rate` in [0, 1] records that fraction of operator calls (libtorch decides per call, so
    the others cost almost nothing). Use as ``with capture_ops(profiler): ...`` or keep the returned
    object and ``close()`` it. Asynchronous operators (those that may end on another thread) are not
    recorded."""
    profiler = profiler if profiler is not None else default_profiler()
    if not isinstance(profiler, CodeProfiler):
        raise TypeError(f"profiler must be a codeprof.CodeProfiler, not {type(profiler).__name__}")
    if not isinstance(sample_rate, (int, float)) or isinstance(sample_rate, bool) or not 0.0 <= sample_rate <= 1.0:
        raise ValueError(f"sample_rate must be a number in [0, 1], got {sample_rate!r}")
    chosen = _category(category)
    try:
        return OperatorCapture(profiler, sample_rate, operators, autograd, chosen)
    except ValueError as e:  # another capture is installed
        raise RuntimeError(str(e)) from None


# ---------------------------------------------------------------- DataLoader

class _FlushingCollate:
    """The DataLoader's collate_fn, then an update to the parent: a worker's statistics for a batch
    are on their way before the batch itself is handed back."""

    def __init__(self, collate_fn: Callable[[Any], Any]) -> None:
        self.collate_fn = collate_fn

    def __call__(self, batch: Any) -> Any:
        result = self.collate_fn(batch)
        _processes.flush_children()
        return result


class ProfiledDataLoader:
    """A DataLoader whose ``next()`` is timed as one call of `name`; everything else is the loader's."""

    def __init__(self, loader: Any, profiler: CodeProfiler, name: Optional[str], category: Category) -> None:
        self.loader = loader
        self.profiler = profiler
        self.name = name
        self.category = category

    def __iter__(self) -> Iterator[Any]:
        if self.name is None:
            return iter(self.loader)
        return self.profiler.profile_iter(self.loader, self.name, self.category)

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.loader, attribute)


def profile_dataloader(loader: Any, profiler: Optional[CodeProfiler] = None, name: Optional[str] = "next_batch",
                       category: Union[str, Category] = "data_loading") -> ProfiledDataLoader:
    """Wraps a torch DataLoader: iterating it times each ``next()`` (the training loop's wait for a
    batch) as `name` (None: not timed, for a loop that times it in its own scope); with worker processes, each worker sends what it recorded after every batch it
    produces, so by the time the parent holds a batch the work behind it is on its way, and by the
    time the iterator is exhausted everything is in `profiler` (also with persistent_workers)."""
    profiler = profiler if profiler is not None else default_profiler()
    workers = getattr(loader, "num_workers", 0)
    if workers > 0:
        # The batches reach this process through pipes: the analysis must not take their reads
        # for the data being read again (data-loading-cache).
        most = max(workers, getattr(profiler, "_loader_worker_processes", 0))
        profiler._loader_worker_processes = most  # type: ignore[attr-defined]
        profiler.set_metadata("loader_worker_processes", str(most))
    if workers > 0 and not isinstance(loader.collate_fn, _FlushingCollate):
        loader.collate_fn = _FlushingCollate(loader.collate_fn)
    return ProfiledDataLoader(loader, profiler, name, _category(category))


# ---------------------------------------------------------------- PyTorch profiler traces

class TraceHandler:
    """``on_trace_ready`` for torch.profiler.profile: writes the Kineto trace, reads it back into a
    codeprof Snapshot, analyses it like a live run and writes codeprof's reports next to the trace."""

    def __init__(self, dir_name: Optional[str], worker_name: Optional[str], config: Optional[Config],
                 formats: Sequence[str], print_summary: bool,
                 on_report: Optional[Callable[[Snapshot, Findings], Any]]) -> None:
        self.dir_name = dir_name
        self.worker_name = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        self.config = config
        self.formats = list(formats)
        self.print_summary = print_summary
        self.on_report = on_report
        self.traces: List[str] = []
        self.reports: List[str] = []
        self.snapshot: Optional[Snapshot] = None
        self.findings: Optional[Findings] = None

    def __call__(self, prof: Any) -> None:
        directory = self.dir_name or tempfile.mkdtemp(prefix="codeprof_trace_")
        os.makedirs(directory, exist_ok=True)
        step = getattr(prof, "step_num", len(self.traces))
        path = os.path.join(directory, f"{self.worker_name}.{step}.{time.time_ns() // 1_000_000}.pt.trace.json")
        prof.export_chrome_trace(path)
        self.traces.append(path)
        self.snapshot = read_trace(path)
        self.findings = analyze(self.snapshot, self.config)
        if self.dir_name and self.formats:
            self.reports.extend(self.snapshot.export(os.path.join(directory, "codeprof"), self.formats, self.config))
        if self.print_summary:
            print(f"codeprof: {path}\n{self.findings}")
        if self.on_report is not None:
            self.on_report(self.snapshot, self.findings)


def trace_handler(dir_name: Optional[str] = None, worker_name: Optional[str] = None,
                  config: Optional[Config] = None, formats: Iterable[str] = ("json", "html"),
                  print_summary: bool = False,
                  on_report: Optional[Callable[[Snapshot, Findings], Any]] = None) -> TraceHandler:
    """For ``torch.profiler.profile(on_trace_ready=codeprof.torch.trace_handler("./log"))``: each
    trace the PyTorch profiler produces is written to `dir_name` (as tensorboard_trace_handler does)
    and analysed by codeprof (steps from ProfilerStep#N, bottlenecks, recommendations); the reports in
    `formats` go to `dir_name`/codeprof/. The handler keeps the last ``snapshot`` and ``findings``;
    `on_report(snapshot, findings)` is called with them, and `print_summary` prints the findings."""
    return TraceHandler(dir_name, worker_name, config, tuple(formats), print_summary, on_report)
