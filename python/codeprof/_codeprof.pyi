# Type stub of the C++ extension module codeprof._codeprof (python/src/). Use it through the codeprof
# package; these are the types its results have.
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from ._categories import Category

__version__: str

class ConfigError(ValueError): ...
class DashboardError(OSError): ...
class WriteError(OSError): ...
class TraceReadError(ValueError): ...

class _Config:
    def __init__(self) -> None: ...
    @staticmethod
    def load(path: str) -> "_Config": ...
    @staticmethod
    def from_env() -> "_Config": ...
    def set(self, key: str, value: str) -> None: ...
    def get(self, key: str) -> str: ...
    def copy(self) -> "_Config": ...

def config_keys() -> List[Dict[str, str]]: ...

class OperationScope:
    """One call of an operation: `with profiler.profile_operation(name, category):`."""
    @property
    def active(self) -> bool: ...
    @property
    def operation(self) -> str: ...
    def __enter__(self) -> "OperationScope": ...
    def __exit__(self, *exc: Any) -> bool: ...

class InactiveScope:
    """The scope of a category that is not recording: does nothing."""
    @property
    def active(self) -> bool: ...
    def __enter__(self) -> "InactiveScope": ...
    def __exit__(self, *exc: Any) -> bool: ...

class ProfilerCore:
    def __init__(self, config: Optional[_Config] = None, *, default: bool = False) -> None: ...
    def profile_operation(self, name: str, category: Union[str, Category] = "custom") -> Union[OperationScope, InactiveScope]: ...
    def ticks(self) -> int: ...
    def record_span(self, name: str, category: Union[str, Category], start_ticks: int, end_ticks: int) -> bool: ...

class ProfiledFunction:
    operation: str
    def __init__(self, profiler: ProfilerCore, function: Callable[..., Any], name: str, category: Union[str, Category]) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

class HistogramBucket:
    lower_ns: int
    upper_ns: int
    count: int

class DurationWindow:
    start_ns: int
    width_ns: int
    count: int
    total_ns: int
    min_ns: int
    max_ns: int

class SlowCall:
    start_ns: int
    duration_ns: int
    thread_index: int

class ResourceStat:
    samples: int
    total: int
    max: int
    min: int
    mean: float

class HotSpot:
    function: str
    file: str
    line: int
    samples: int
    share: float

class AllocSite:
    function: str
    file: str
    line: int
    samples: int
    bytes: int
    share: float

class OperationStats:
    id: int
    name: str
    category: Category
    file: str
    line: int
    count: int
    total_ns: int
    self_ns: int
    min_ns: int
    max_ns: int
    mean_ns: float
    stddev_ns: float
    p50_ns: int
    p90_ns: int
    p95_ns: int
    p99_ns: int
    first_seen_ns: int
    last_seen_ns: int
    total_s: float
    self_s: float
    mean_s: float
    stddev_s: float
    min_s: float
    max_s: float
    p50_s: float
    p90_s: float
    p95_s: float
    p99_s: float
    histogram: Tuple[HistogramBucket, ...]
    series: Tuple[DurationWindow, ...]
    slowest: Tuple[SlowCall, ...]
    resources: Dict[str, ResourceStat]
    cpu_samples: int
    hot_functions: Tuple[HotSpot, ...]
    hot_lines: Tuple[HotSpot, ...]
    alloc_samples: int
    alloc_sampled_bytes: int
    live_sampled_bytes: int
    peak_live_sampled_bytes: int
    hot_allocations: Tuple[AllocSite, ...]
    live_at_end: Tuple[AllocSite, ...]

class CallEdge:
    parent_id: Optional[int]
    child_id: int
    count: int
    total_ns: int

class ThreadOperationStats:
    operation_id: int
    count: int
    total_ns: int
    self_ns: int

class ThreadStats:
    index: int
    os_tid: int
    name: str
    events: int
    dropped: int
    busy_ns: int
    operations: Tuple[ThreadOperationStats, ...]

class TraceEvent:
    operation_id: int
    thread_index: int
    start_ns: int
    duration_ns: int
    depth: int

class TimelineSeries:
    name: str
    unit: str
    t_ns: Tuple[int, ...]
    values: Tuple[float, ...]

class StepSpan:
    index: int
    start_ns: int
    end_ns: int

class DeviceActivity:
    device: int
    stream: int
    busy_ns: int
    kernel_ns: int
    memcpy_ns: int
    memset_ns: int
    memcpy_bytes: int
    kernels: int
    busy_in_steps_ns: int

class Unavailable:
    what: str
    reason: str

class GpuDeviceInfo:
    index: int
    name: str
    memory_total_bytes: int

class RunInfo:
    source: str
    source_path: str
    host: str
    pid: int
    command: str
    rank: int
    world_size: int
    start_unix_ns: int
    wall_ns: int
    wall_s: float
    version: str
    enabled: bool
    hardware_threads: int
    metadata: Dict[str, str]
    unavailable: Tuple[Unavailable, ...]
    gpus: Tuple[GpuDeviceInfo, ...]

class MetricWindow:
    start_ns: int
    width_ns: int
    count: int
    sum: float
    min: float
    max: float
    last: float

class CustomMetric:
    name: str
    kind: str
    unit: str
    count: int
    sum: float
    last: float
    min: float
    max: float
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    first_ns: int
    last_ns: int
    rejected: int
    series: Tuple[MetricWindow, ...]

class Snapshot:
    run: RunInfo
    custom_metrics: Tuple[CustomMetric, ...]
    operations: Tuple[OperationStats, ...]
    call_tree: Tuple[CallEdge, ...]
    threads: Tuple[ThreadStats, ...]
    timelines: Tuple[TimelineSeries, ...]
    trace_events: Tuple[TraceEvent, ...]
    steps: Tuple[StepSpan, ...]
    devices: Tuple[DeviceActivity, ...]
    sync_ns: int
    events_recorded: int
    events_dropped: int
    events_misnested: int
    events_recorded_total: int
    events_dropped_total: int
    trace_events_dropped: int
    def find(self, operation: Union[str, int]) -> Optional[OperationStats]: ...
    def timeline(self, name: str) -> Optional[TimelineSeries]: ...
    def metric(self, name: str) -> Optional[CustomMetric]: ...
    def __getitem__(self, operation: Union[str, int]) -> OperationStats: ...
    def __contains__(self, operation: object) -> bool: ...
    def __len__(self) -> int: ...
    # Added by the codeprof package (_snapshots.py):
    def to_json(self, config: Any = None) -> str: ...
    def report(self, config: Any = None) -> Dict[str, Any]: ...
    def analyze(self, config: Any = None) -> Any: ...
    def export(self, directory: str, formats: Optional[List[str]] = None, config: Any = None) -> List[str]: ...

class _Dashboard:
    """A live dashboard (CodeProfiler.serve)."""
    url: str
    port: int
    host: str
    running: bool
    def stop(self) -> None: ...

class _SavedDashboard:
    url: str
    port: int
    host: str
    running: bool
    def stop(self) -> None: ...

def read_trace(path: str, trace_event_budget: int = ..., gpu_activities_as_operations: bool = ...) -> Snapshot: ...
def detect_trace_format(path: str) -> str: ...
def export_format_names() -> List[str]: ...
def __getattr__(name: str) -> Any: ...  # internal helpers used by the package
