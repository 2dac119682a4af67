"""codeprof.CodeProfiler: the profiler's API in Python, recording through the C++ core."""
from __future__ import annotations

import atexit
import functools
import inspect
import os
import threading
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, TypeVar, Union, overload

from . import _codeprof, _processes
from ._categories import Category
from ._config import Config
from ._findings import Bottleneck, Findings, Recommendation

__all__ = ["CodeProfiler", "Profiler", "default_profiler", "Dashboard"]

CategoryLike = Union[str, Category]
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

Dashboard = _codeprof._Dashboard


def _category(category: CategoryLike) -> Category:
    """Checks a category the way the hot path does (ValueError naming the choices)."""
    if isinstance(category, Category):
        return category
    if isinstance(category, str):
        try:
            return Category(category)
        except ValueError:
            names = ", ".join(c.value for c in Category)
            raise ValueError(f"unknown category {category!r}: expected one of {names} (or a codeprof.Category)") from None
    raise TypeError(f"category must be a str such as 'data_loading' or a codeprof.Category, not {type(category).__name__}")


class CodeProfiler(_codeprof.ProfilerCore):
    """Records operations from any thread with nanosecond-scale overhead, samples the system, finds
    bottlenecks and recommends what to change; serves a live dashboard and exports reports.

    ``CodeProfiler(config)`` takes a codeprof.Config (default: the defaults); keyword settings are
    applied on top, e.g. ``CodeProfiler(sampler_interval_ms=50)``.

    Record with ``with profiler.profile_operation("load_batch", "data_loading"):`` or the
    ``@profiler.profile(...)`` decorator. Work recorded in DataLoader worker processes and other
    multiprocessing children joins this profiler's snapshot, one thread per worker.
    """

    def __init__(self, config: Optional[Config] = None, **settings: Any) -> None:
        if config is not None and not isinstance(config, Config):
            raise TypeError(f"config must be a codeprof.Config, not {type(config).__name__}")
        cfg = config.copy() if config is not None else Config()
        if settings:
            cfg.update(settings)
        super().__init__(cfg._cpp)
        self._dashboards: List[Any] = []
        _processes.adopt(self)
        if cfg.sampling.enabled:
            _codeprof._start_python_sampler(self)

    @classmethod
    def _process_default(cls) -> "CodeProfiler":
        p = cls.__new__(cls)
        _codeprof.ProfilerCore.__init__(p, default=True)
        p._dashboards = []
        _processes.adopt(p, default=True)
        if p.config.sampling.enabled:
            _codeprof._start_python_sampler(p)
        return p

    # ------------------------------------------------------------------ recording
    # profile_operation(name, category="custom") is the C++ hot path (ProfilerCore).

    @overload
    def profile(self, name: F) -> F: ...
    @overload
    def profile(self, name: Optional[str] = None, category: CategoryLike = "custom") -> Callable[[F], F]: ...

    def profile(self, name: Any = None, category: CategoryLike = "custom") -> Any:
        """Decorator: every call of the function is one call of the operation `name` (default: the
        function's qualified name) in `category`. Works on functions, methods, coroutine functions
        (the scope spans the awaits) and generators (each step is one call, so a scope never stays
        open across a yield). Used bare (``@profiler.profile``) it takes the defaults."""
        if callable(name) and not isinstance(name, str):
            return self.profile()(name)
        category = _category(category)

        def decorate(fn: F) -> F:
            if isinstance(fn, (staticmethod, classmethod)):
                return type(fn)(decorate(fn.__func__))  # type: ignore[return-value]
            op = name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
            if inspect.isasyncgenfunction(fn):
                return functools.wraps(fn)(_async_generator_steps(self, fn, op, category))  # type: ignore[return-value]
            if inspect.iscoroutinefunction(fn):
                @functools.wraps(fn)
                async def coroutine(*args: Any, **kwargs: Any) -> Any:
                    with self.profile_operation(op, category):
                        return await fn(*args, **kwargs)
                return coroutine  # type: ignore[return-value]
            if inspect.isgeneratorfunction(fn):
                return functools.wraps(fn)(_generator_steps(self, fn, op, category))  # type: ignore[return-value]
            wrapped = _codeprof.ProfiledFunction(self, fn, op, category)
            functools.update_wrapper(wrapped, fn)
            return wrapped  # type: ignore[return-value]

        return decorate

    def profile_iter(self, iterable: Iterable[T], name: str = "next_batch",
                     category: CategoryLike = "data_loading") -> Iterator[T]:
        """Yields the items of `iterable`; the time each ``next()`` takes is one call of `name`
        (e.g. the time a training loop waits for its DataLoader)."""
        iterator = iter(iterable)
        while True:
            with self.profile_operation(name, category):
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item

    # ------------------------------------------------------------------ switches
    def enable(self) -> None:
        """Records again (the global switch, `enabled`)."""
        _codeprof._set_enabled(self, True)

    def disable(self) -> None:
        """Stops recording: a scope then costs one check."""
        _codeprof._set_enabled(self, False)

    @property
    def enabled(self) -> bool:
        return bool(_codeprof._enabled(self))

    @enabled.setter
    def enabled(self, on: bool) -> None:
        _codeprof._set_enabled(self, bool(on))

    def set_category_enabled(self, category: CategoryLike, enabled: bool) -> None:
        """Records (or not) the operations of one category."""
        _codeprof._set_category_enabled(self, category, bool(enabled))

    def category_enabled(self, category: CategoryLike) -> bool:
        return bool(_codeprof._category_enabled(self, category))

    def set_thresholds(self, category: CategoryLike, warning: float, critical: float) -> None:
        """Mean durations (s) at which an operation of `category` is a warning / critical bottleneck."""
        _codeprof._set_thresholds(self, category, float(warning), float(critical))

    @property
    def config(self) -> Config:
        """A copy of the configuration in effect."""
        return Config._wrap(_codeprof._config(self))

    def update_config(self, config: Config) -> None:
        """Applies the switches, thresholds and analysis keys of `config` (buffer, sampler, probe and
        dashboard keys stay as they were at construction)."""
        if not isinstance(config, Config):
            raise TypeError(f"config must be a codeprof.Config, not {type(config).__name__}")
        _codeprof._update_config(self, config._cpp)

    def set_metadata(self, key: str, value: Any) -> None:
        """A fact about the run, carried by every snapshot and report from now on (``run.metadata``);
        the analysis reads ``batch_size`` and ``loader_worker_processes``."""
        _codeprof._set_metadata(self, str(key), str(value))

    # ------------------------------------------------------------------ the program's own metrics
    def add_counter(self, name: str, n: float = 1, unit: str = "") -> None:
        """Adds n (>= 0) to the monotonic counter `name` (pages scored, tokens seen). From any thread;
        aggregated by the calling thread, exact at any load (docs/METRICS.md)."""
        _codeprof._add_counter(self, name, float(n), unit)

    def record_value(self, name: str, x: float, unit: str = "") -> None:
        """One observation of the series `name` (loss, tokens per batch): count, min, max, mean,
        last and percentiles."""
        _codeprof._record_value(self, name, float(x), unit)

    def set_gauge(self, name: str, v: float, unit: str = "") -> None:
        """Sets the level `name` (queue depth, cache hit rate): the most recent setting wins."""
        _codeprof._set_gauge(self, name, float(v), unit)

    def set_thread_name(self, name: str) -> None:
        """Names the calling thread in reports (default: threading.current_thread().name)."""
        _codeprof._set_thread_name(self, str(name))

    # ------------------------------------------------------------------ Python-level sampling
    @property
    def sampling(self) -> bool:
        """Whether the Python sampler runs: with ``sampling.enabled``, a thread takes the Python stack
        of each recording thread ``sampling.python_frequency_hz`` times per second of its CPU time
        and attributes it to the operations open on it (hot_functions / hot_lines, the profile)."""
        return bool(_codeprof._python_sampler_running(self))

    def stop_sampling(self) -> None:
        """Stops the Python sampler (and waits for its thread); the samples taken stay."""
        _codeprof._stop_python_sampler(self)

    def start_sampling(self) -> None:
        """Starts the Python sampler (again), whatever ``sampling.enabled`` said."""
        _codeprof._start_python_sampler(self)

    # ------------------------------------------------------------------ results
    def snapshot(self) -> "_codeprof.Snapshot":
        """Everything recorded so far (worker processes included), as an immutable Snapshot."""
        _processes.before_snapshot(self)
        return _codeprof._snapshot(self)

    def analyze(self) -> Findings:
        """Bottlenecks, classification, trends and recommendations of the snapshot."""
        _processes.before_snapshot(self)
        return Findings(_codeprof._analyze(self))

    def get_bottlenecks(self, threshold_duration: float = 0.0) -> List[Bottleneck]:
        """Operations whose mean duration is at least `threshold_duration` seconds, most important
        first (docs/RULES.md), as dicts: operation, type, avg_duration (s), optimization_priority, ..."""
        _processes.before_snapshot(self)
        return [Bottleneck(b) for b in _codeprof._bottlenecks(self, float(threshold_duration))]

    def get_performance_recommendations(self) -> List[Recommendation]:
        """What to change, most important first, as dicts: id, type, priority, title, evidence,
        evidence_text, action; ``str(rec)`` reads well."""
        _processes.before_snapshot(self)
        return [Recommendation(r) for r in _codeprof._recommendations(self)]

    def export_profiling_data(self, path: "Union[str, os.PathLike[str]]" = "") -> str:
        """Writes the JSON report (the C++ schema, docs/REPORT_SCHEMA.md) and returns its path. A
        directory (or "" for output.dir) gets profiling_report_YYYYMMDD_HHMMSS.json."""
        _processes.before_snapshot(self)
        return _codeprof._export_profiling_data(self, os.fspath(path))

    def export_all(self, directory: "Union[str, os.PathLike[str]]" = "",
                   metadata: Optional[Mapping[str, str]] = None,
                   formats: Optional[Iterable[str]] = None,
                   unavailable: Optional[Mapping[str, str]] = None) -> List[str]:
        """Writes every format of output.formats (json, chrome, csv, prometheus, html) into
        `directory` ("" for output.dir), from one snapshot analysed once. `metadata` adds run
        metadata (e.g. {"batch_size": "32"}, which the analysis reads); `unavailable` adds what could
        not run and why ({"multi_gpu": "needs 2 GPUs"}). Returns the paths."""
        _processes.before_snapshot(self)
        directory = os.fspath(directory)
        if metadata is None and formats is None and unavailable is None:
            return _codeprof._export_all(self, directory)
        chosen = list(formats) if formats is not None else self.config.output.formats
        extra = {str(k): str(v) for k, v in (metadata or {}).items()}
        notes = {str(k): str(v) for k, v in (unavailable or {}).items()}
        return _codeprof._export_formats(self, chosen, directory, extra, notes)

    def reset(self) -> None:
        """Starts fresh statistics (worker processes included) without stopping anything. Running
        worker processes follow at once, when the notice reaches them."""
        _codeprof._reset(self)
        _processes.after_reset(self)

    def flush(self) -> None:
        """Waits until everything recorded so far is aggregated."""
        _codeprof._flush(self)

    # ------------------------------------------------------------------ dashboard
    def serve(self, port: int = 8765, host: str = "127.0.0.1", token: str = "") -> Dashboard:
        """Starts the live web dashboard (loopback by default; any other host needs a token).
        ``port=0`` picks a free port. Returns the dashboard (``.url``, ``.port``, ``.stop()``); it runs
        until stopped or the profiler goes away."""
        dashboard = _codeprof._Dashboard(self, host, int(port), token)
        self._dashboards.append(dashboard)
        return dashboard

    # ------------------------------------------------------------------ other processes
    def processes(self) -> Dict[str, Any]:
        """What arrived from worker processes: processes heard from, updates received, dropped
        (the channel was full) and malformed, and the channel's address."""
        return _codeprof._process_parts_status(self)

    def __reduce__(self) -> Any:
        # A Dataset that holds the profiler reaches a spawned worker as a child-side profiler that
        # sends what it records to this one.
        return _processes.reduce_profiler(self)

    def __repr__(self) -> str:
        state = "enabled" if self.enabled else "disabled"
        return f"<codeprof.CodeProfiler {state}, pid {os.getpid()}>"


Profiler = CodeProfiler

# The sampler threads enter the interpreter: they stop before it finalises, and a fork()ed child
# (a DataLoader worker) forgets the parent's, which do not exist there.
atexit.register(_codeprof._stop_python_samplers)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_codeprof._forget_python_samplers)

_default_lock = threading.Lock()
_default: Optional[CodeProfiler] = None


def default_profiler() -> CodeProfiler:
    """The process-wide profiler (the one C++ code's CODEPROF_ZONE records to), configured from the
    environment (CODEPROF_CONFIG, CODEPROF_* variables). It is flushed at exit, and with
    output.export_on_exit it writes every report format then."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = CodeProfiler._process_default()
    return _default


def _generator_steps(profiler: CodeProfiler, fn: Callable[..., Any], op: str, category: Category) -> Callable[..., Any]:
    def steps(*args: Any, **kwargs: Any) -> Any:
        gen = fn(*args, **kwargs)
        value: Any = None
        error: Optional[BaseException] = None
        while True:
            with profiler.profile_operation(op, category):
                try:
                    item = gen.throw(error) if error is not None else gen.send(value)
                except StopIteration as stop:
                    return stop.value
            error = None
            try:
                value = yield item
            except GeneratorExit:
                gen.close()
                raise
            except BaseException as e:  # delivered into the generator at its next step
                error = e
                value = None
    return steps


def _async_generator_steps(profiler: CodeProfiler, fn: Callable[..., Any], op: str, category: Category) -> Callable[..., Any]:
    async def steps(*args: Any, **kwargs: Any) -> Any:
        agen = fn(*args, **kwargs)
        value: Any = None
        error: Optional[BaseException] = None
        while True:
            with profiler.profile_operation(op, category):
                try:
                    item = await (agen.athrow(error) if error is not None else agen.asend(value))
                except StopAsyncIteration:
                    return
            error = None
            try:
                value = yield item
            except GeneratorExit:
                await agen.aclose()
                raise
            except BaseException as e:
                error = e
                value = None
    return steps
