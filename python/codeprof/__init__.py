"""codeprof: a low-overhead profiler for ML and data pipelines that says what is slow and what to do
about it, with the numbers that prove it. The Python API over the C++ core (docs/PYTHON.md)::

    import codeprof
    profiler = codeprof.CodeProfiler(codeprof.Config())
    with profiler.profile_operation("load_batch", "data_loading"):
        ...
    for rec in profiler.get_performance_recommendations():
        print(rec)
    profiler.export_all("codeprof_output")
"""
from __future__ import annotations

import os
from typing import Optional

from . import _codeprof
from ._categories import Category
from ._config import Config, ConfigError, config_keys
from ._findings import Bottleneck, Findings, Recommendation, Trend
from ._profiler import CodeProfiler, Dashboard, Profiler, default_profiler
from ._snapshots import Snapshot, OperationStats, analyze, read_trace, serve_snapshot

__version__: str = _codeprof.__version__
DashboardError = _codeprof.DashboardError
TraceReadError = _codeprof.TraceReadError
WriteError = _codeprof.WriteError


def network_library() -> Optional[str]:
    """Path of libcodeprof_net.so, the socket counters behind ``metrics.network``: start Python with
    ``LD_PRELOAD=<this path>`` to count each operation's socket bytes, calls and blocked time
    (docs/PYTHON.md). None when the package was built without it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libcodeprof_net.so")
    return path if os.path.isfile(path) else None


def alloc_library() -> Optional[str]:
    """Path of libcodeprof_alloc.so, codeprof's operator new/delete: start Python with
    ``LD_PRELOAD=<this path>`` and ``sampling.alloc_enabled`` to sample the allocations C++
    extensions make (per operation ``hot_allocations`` / ``live_at_end``; docs/PYTHON.md).
    Python's own objects come from its allocator, not operator new, and are not sampled.
    None when the package was built without it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libcodeprof_alloc.so")
    return path if os.path.isfile(path) else None


__all__ = [
    "Bottleneck", "Category", "CodeProfiler", "Config", "ConfigError", "Dashboard", "DashboardError",
    "Findings", "OperationStats", "Profiler", "Recommendation", "Snapshot", "TraceReadError", "Trend",
    "WriteError", "alloc_library", "analyze", "config_keys", "default_profiler", "network_library", "read_trace", "serve_snapshot",
]
