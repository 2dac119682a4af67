"""Snapshots from anywhere (a live profiler, a PyTorch profiler trace): analysis, reports, exports
and a read-only dashboard, by the same C++ code as live runs."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, List, Optional, Union

from . import _codeprof
from ._config import Config
from ._findings import Findings

__all__ = ["Snapshot", "OperationStats", "analyze", "read_trace", "serve_snapshot"]

Snapshot = _codeprof.Snapshot
OperationStats = _codeprof.OperationStats
PathLike = Union[str, "os.PathLike[str]"]


def _cpp_config(config: Optional[Config]) -> Any:
    if config is None:
        return _codeprof._Config()
    if not isinstance(config, Config):
        raise TypeError(f"config must be a codeprof.Config, not {type(config).__name__}")
    return config._cpp


def analyze(snapshot: Snapshot, config: Optional[Config] = None) -> Findings:
    """Bottlenecks, classification, trends and recommendations of any snapshot, with the thresholds
    of `config` (default: the defaults)."""
    return Findings(_codeprof._analyze_snapshot(snapshot, _cpp_config(config)))


def read_trace(path: PathLike, trace_event_budget: int = 100_000) -> Snapshot:
    """Reads a Chrome trace or a PyTorch profiler (Kineto) trace (.json or .json.gz) into a Snapshot:
    per-operation statistics, call tree, threads, steps (ProfilerStep#N), GPU activity."""
    return _codeprof.read_trace(os.fspath(path), trace_event_budget)


def serve_snapshot(snapshot: Snapshot, port: int = 8765, host: str = "127.0.0.1", token: str = "",
                   config: Optional[Config] = None) -> Any:
    """A read-only dashboard over a saved snapshot (e.g. a trace). Returns it (``.url``, ``.stop()``)."""
    return _codeprof._SavedDashboard(snapshot, _cpp_config(config), host, int(port), token)


def _to_json(self: Snapshot, config: Optional[Config] = None) -> str:
    """The JSON report of this snapshot (docs/REPORT_SCHEMA.md), analysis included."""
    return _codeprof._json_report(self, _cpp_config(config))


def _report(self: Snapshot, config: Optional[Config] = None) -> Dict[str, Any]:
    """The JSON report as a dict."""
    return json.loads(_to_json(self, config))


def _analyze(self: Snapshot, config: Optional[Config] = None) -> Findings:
    return analyze(self, config)


def _export(self: Snapshot, directory: PathLike, formats: Optional[Iterable[str]] = None,
            config: Optional[Config] = None) -> List[str]:
    """Writes the reports (default: every format: json, chrome, csv, prometheus, html) into
    `directory`; returns the paths."""
    chosen = list(formats) if formats is not None else list(_codeprof.export_format_names())
    return _codeprof._write_snapshot(self, _cpp_config(config), chosen, os.fspath(directory))


Snapshot.to_json = _to_json
Snapshot.report = _report
Snapshot.analyze = _analyze
Snapshot.export = _export
