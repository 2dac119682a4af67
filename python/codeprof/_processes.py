"""Work recorded in other processes (DataLoader workers, multiprocessing children) joins the
parent's profiler.

Every profiler opens a channel (a Unix datagram socket, include/codeprof/process_parts.hpp) when it
is created. A child process records into its own profiler and sends cumulative updates to the
parent's channel: every quarter second from a background thread, after every batch when the
DataLoader is wrapped by codeprof.torch.profile_dataloader, and once more when the child exits. A
send never blocks the child: when the channel is full the update is dropped and counted, and the
next one carries everything. The parent merges the latest update of each child into its snapshots,
one thread per child named after it ("dataloader worker 2 (pid 4242)").

How a child finds its parent's profiler:
- fork (DataLoader's default on Linux): the child inherits the profiler objects; after fork each
  one starts empty in the child and forwards to its parent's channel;
- spawn / forkserver: a profiler that reaches the child inside a pickled object (a Dataset holding
  it) comes back as a forwarding profiler; a profiler created while the child imports the main
  module is matched to the parent's by creation order (the parent publishes its channels in the
  environment variable _CODEPROF_PARENT_CHANNELS), and forwards once multiprocessing has started the
  child (a program merely run by the parent, e.g. with subprocess, does not).
"""
from __future__ import annotations

import atexit
import json
import os
import threading
import weakref
from typing import Any, Dict, List, Optional, Tuple

from . import _codeprof

ENV = "_CODEPROF_PARENT_CHANNELS"
FLUSH_INTERVAL_S = 0.25
FINAL_WAIT_MS = 2000  # a child about to exit may wait this long for room for its last update

_lock = threading.RLock()
_live: "weakref.WeakSet[Any]" = weakref.WeakSet()  # profilers of this process
_created = 0  # profilers created in this process (not the default), for spawn matching
_channels: List[List[Any]] = []  # [channel, reset generation] of profilers created here, in order
_default_channel: Optional[List[Any]] = None
_children: "weakref.WeakKeyDictionary[Any, _ChildSide]" = weakref.WeakKeyDictionary()
_flusher: Optional[threading.Thread] = None
_flusher_pid = 0
_exit_hooks_pid = 0


def _label() -> str:
    """How the parent names this process: the DataLoader worker's id when it is one."""
    pid = os.getpid()
    data = _torch_data()
    if data is not None:
        info = data.get_worker_info()
        if info is not None:
            return f"dataloader worker {info.id} (pid {pid})"
    import multiprocessing
    name = multiprocessing.current_process().name
    return f"{name} (pid {pid})" if name and name != "MainProcess" else f"process {pid}"


def _torch_data() -> Any:
    import sys
    return sys.modules.get("torch.utils.data")


def _in_multiprocessing_child() -> bool:
    import multiprocessing
    return multiprocessing.parent_process() is not None


class _ChildSide:
    """A profiler of a child process that sends its statistics to the parent's channel."""

    def __init__(self, profiler: Any, address: str, generation: int, confirmed: bool) -> None:
        self.address = address
        self.sender = _codeprof._PartSender(address)
        self.source = f"{os.getpid()}:{id(profiler):x}:{threading.get_ident():x}"
        self.generation = generation
        self.confirmed = confirmed  # False: waits until multiprocessing has started this process
        self.profiler_ref = weakref.ref(profiler)
        self.lock = threading.Lock()

    def follow_reset(self, profiler: Any) -> bool:
        """The parent was reset: what this child recorded before is no longer wanted."""
        generation = self.sender.poll_generation()
        if generation > self.generation:
            _codeprof._reset(profiler)
            self.generation = generation
            return True
        return False

    def flush(self, final: bool = False) -> bool:
        profiler = self.profiler_ref()
        if profiler is None:
            return False
        if not self.confirmed:
            if not _in_multiprocessing_child():
                return False
            self.confirmed = True
        with self.lock:
            self.follow_reset(profiler)
            return bool(self.sender.send(profiler, self.source, _label(), self.generation,
                                         FINAL_WAIT_MS if final else 0))

    def reset_if_told(self) -> None:
        profiler = self.profiler_ref()
        if profiler is not None and self.confirmed:
            with self.lock:
                if self.follow_reset(profiler):  # tell the parent at once that this child follows
                    self.sender.send(profiler, self.source, _label(), self.generation, 0)


def _flush_loop() -> None:
    """Sends updates every FLUSH_INTERVAL_S and, in between, follows a parent's reset as soon as its
    notice arrives (so the child's next work already counts after the reset)."""
    import select
    import time
    next_flush = time.monotonic() + FLUSH_INTERVAL_S
    while True:
        with _lock:
            sides = list(_children.values())
        timeout = max(0.0, next_flush - time.monotonic())
        try:
            ready, _, _ = select.select([s.sender for s in sides], [], [], timeout)
        except (OSError, ValueError):
            ready = []
            time.sleep(timeout)
        for side in sides:
            if side.sender in ready:
                try:
                    side.reset_if_told()
                except Exception:
                    pass
        if time.monotonic() >= next_flush:
            flush_children()
            next_flush = time.monotonic() + FLUSH_INTERVAL_S


def _start_child_machinery() -> None:
    """The flusher thread and the exit hooks, once per child process."""
    global _flusher, _flusher_pid, _exit_hooks_pid
    pid = os.getpid()
    if _flusher_pid != pid:
        _flusher_pid = pid
        _flusher = threading.Thread(target=_flush_loop, name="codeprof-child-flush", daemon=True)
        _flusher.start()
    if _exit_hooks_pid != pid:
        _exit_hooks_pid = pid
        # multiprocessing children leave through os._exit after running their finalizers; other
        # children (os.fork) through atexit. Either way the last update goes out, waiting for room.
        _register_exit_flush()
        atexit.register(final_flush)


def _register_exit_flush(_token: Any = None) -> None:
    import multiprocessing.util
    multiprocessing.util.Finalize(None, final_flush, exitpriority=100)


class _AfterForkToken:
    """multiprocessing clears its exit finalizers when it starts a child (Process._bootstrap), after
    os.fork's hooks and after a spawned child imported its modules; its after-fork callbacks run
    right after that, so the exit flush is registered again there."""


_AFTER_FORK_TOKEN = _AfterForkToken()


def flush_children(final: bool = False) -> None:
    """Sends every child-side profiler's statistics now (never blocks unless `final`)."""
    with _lock:
        sides = list(_children.values())
    for side in sides:
        try:
            side.flush(final)
        except Exception:  # a parent that went away must not break the child
            pass


def final_flush() -> None:
    flush_children(final=True)


def _become_child(profiler: Any, address: str, generation: int, confirmed: bool) -> None:
    try:
        side = _ChildSide(profiler, address, generation, confirmed)
    except ValueError:
        return  # the parent's channel is gone: the child records for itself only
    with _lock:
        _children[profiler] = side
        profiler._parent_channel = address
    _start_child_machinery()


def _publish() -> None:
    os.environ[ENV] = json.dumps({"pid": os.getpid(), "default": _default_channel, "profilers": _channels})


def _spawn_parent() -> Optional[Dict[str, Any]]:
    text = os.environ.get(ENV)
    if not text:
        return None
    try:
        info = json.loads(text)
    except ValueError:
        return None
    if not isinstance(info, dict) or info.get("pid") != os.getppid() or info.get("pid") == os.getpid():
        return None
    return info


def adopt(profiler: Any, default: bool = False) -> None:
    """Called when a profiler is created: opens its channel, and in a spawned child connects it to
    the parent's profiler of the same creation order."""
    global _created, _default_channel
    with _lock:
        profiler._parent_channel = None
        profiler._channel = _codeprof._process_channel(profiler)
        _live.add(profiler)
        parent = _spawn_parent()
        if default:
            target = parent.get("default") if parent else None
            _default_channel = [profiler._channel, 0]
        else:
            index = _created
            _created += 1
            profilers = parent.get("profilers", []) if parent else []
            target = profilers[index] if index < len(profilers) else None
            _channels.append([profiler._channel, 0])
        _publish()
    if isinstance(target, list) and len(target) == 2 and isinstance(target[0], str) and isinstance(target[1], int):
        _become_child(profiler, target[0], target[1], confirmed=False)


def after_reset(profiler: Any) -> None:
    """A child started from now on starts at the new generation (and records nothing from before)."""
    if profiler._parent_channel is not None:
        return
    generation = _codeprof._process_parts_status(profiler)["generation"]
    with _lock:
        for entry in _channels + ([_default_channel] if _default_channel else []):
            if entry[0] == profiler._channel:
                entry[1] = generation
        _publish()


def before_snapshot(profiler: Any) -> None:
    """Nothing to do in the parent (the channel is drained by the C++ side); kept as the one place
    where results are requested, for a child to flush its own first if it ever needs to."""


def reduce_profiler(profiler: Any) -> Tuple[Any, Tuple[Any, ...]]:
    side = _children.get(profiler)
    if side is not None:
        address, generation = side.address, side.generation
    else:
        address = profiler._channel
        generation = _codeprof._process_parts_status(profiler)["generation"]
    config = profiler.config.to_dict()
    return (attach, (address, config, os.getpid(), generation))


def attach(address: str, config: Dict[str, Any], owner_pid: int, generation: int = 0) -> Any:
    """Unpickles a profiler: the original in its own process, else a child-side one."""
    from ._config import Config
    from ._profiler import CodeProfiler
    with _lock:
        for p in list(_live):
            if p._channel == address or p._parent_channel == address:
                return p
    if owner_pid == os.getpid():
        raise ValueError("codeprof: this profiler no longer exists in its process")
    cfg = Config(config)
    cfg.update(sampler_enabled=False, dashboard_port=0, output_export_on_exit=False)
    profiler = CodeProfiler(cfg)
    _become_child(profiler, address, generation, confirmed=True)
    return profiler


# ---------------------------------------------------------------- fork

def _before_fork() -> None:
    # The generation each parent profiler is at, for its children to start from.
    with _lock:
        for p in list(_live):
            if p._parent_channel is None and p._channel:
                try:
                    p._generation_at_fork = _codeprof._process_parts_status(p)["generation"]
                except Exception:
                    p._generation_at_fork = 0


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.RLock()  # another thread of the parent may have held it
    for p in list(_live):
        try:
            for d in getattr(p, "_dashboards", []):
                d._forget_after_fork()
            p._dashboards = []  # the server threads stay with the parent
            # The C++ profiler keeps working in the child and starts empty there (core fork safety).
            address = p._parent_channel or p._channel
            generation = getattr(p, "_generation_at_fork", 0) if p._parent_channel is None else \
                getattr(_children.get(p), "generation", 0)
            _children.pop(p, None)
            _become_child(p, address, generation, confirmed=True)
        except Exception:
            pass


os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def _setup_multiprocessing_hook() -> None:
    import multiprocessing.util
    multiprocessing.util.register_after_fork(_AFTER_FORK_TOKEN, _register_exit_flush)


_setup_multiprocessing_hook()
