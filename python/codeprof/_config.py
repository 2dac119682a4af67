"""codeprof.Config: every key of docs/CONFIG.md as an attribute.

Keys are dotted (``thresholds.data_loading.warning``) and reachable three ways::

    config.thresholds.data_loading.warning = 2.0      # the dotted path, section by section
    config.thresholds_data_loading_warning = 2.0      # flat: dots become underscores (also for Config(**kw))
    config["thresholds.data_loading.warning"] = 2.0   # the key itself

Values cross to the C++ configuration as their text forms (as in the environment), so Python, TOML
files and CODEPROF_* variables go through the same checks. A bad key or value raises
codeprof.ConfigError (a ValueError) naming the key, what it expects and what was given, and changes
nothing; an update of several keys is applied all together or not at all.
"""
from __future__ import annotations

import math
import os
import re
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from . import _codeprof

__all__ = ["Config", "ConfigError", "config_keys"]

ConfigError = _codeprof.ConfigError

_KEY_TABLE: List[Dict[str, str]] = _codeprof.config_keys()
_TYPES: Dict[str, str] = {k["name"]: k["type"] for k in _KEY_TABLE}

# Other spellings: enable_code_profiling (another name for 'enabled'), and the C++ Config field names where they differ from the
# flat key names.
_ALIASES: Dict[str, str] = {
    "enable_code_profiling": "enabled",
    "buffer_events": "buffer.events_per_thread",
    "timeline_capacity": "sampler.timeline_capacity",
    "step_operation": "analysis.step_operation",
    "low_priority_share": "analysis.low_priority_share",
    "export_formats": "output.formats",
    "export_on_exit": "output.export_on_exit",
    "rank": "run.rank",
    "world_size": "run.world_size",
}


def _flat_names() -> Dict[str, str]:
    names: Dict[str, str] = {}
    for key in _TYPES:
        flat = key.replace(".", "_")
        if flat in names and names[flat] != key:  # pragma: no cover - guards the key table
            raise ImportError(f"codeprof: config keys {names[flat]!r} and {key!r} share the flat name {flat!r}")
        names[flat] = key
    for alias, key in _ALIASES.items():
        names.setdefault(alias, key)
    return names


_FLAT: Dict[str, str] = _flat_names()
_SECTIONS = {key.rsplit(".", 1)[0] for key in _TYPES if "." in key}
_SECTIONS |= {s.rsplit(".", 1)[0] for s in list(_SECTIONS) if "." in s}


def _expectations() -> Dict[str, str]:
    """What each key expects, in the C++ library's own words (from the error it gives for text
    that no key accepts)."""
    scratch = _codeprof._Config()
    found = {}
    for key, kind in _TYPES.items():
        if kind == "string":
            found[key] = "a string"
            continue
        try:
            scratch.set(key, "\x01")
        except ConfigError as e:
            m = re.search(r"expects (.*), got", str(e))
            found[key] = m.group(1) if m else kind
    return found


_EXPECTS: Dict[str, str] = _expectations()


def config_keys() -> List[Dict[str, str]]:
    """Every key: ``name``, ``env`` (its CODEPROF_ variable), ``type``, ``default`` (text form), ``description``."""
    return [dict(k) for k in _KEY_TABLE]


def _resolve(name: str) -> Optional[str]:
    if name in _TYPES:
        return name
    return _FLAT.get(name)


def _unknown(name: str) -> ConfigError:
    close = [k for k in _TYPES if name.replace("_", ".").split(".")[-1] in k][:3]
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    return ConfigError(f"config: unknown key '{name}'{hint}; every key is listed in docs/CONFIG.md "
                       "and by codeprof.config_keys()")


def _given(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text}" if not isinstance(value, str) else text


def _to_text(key: str, value: Any) -> str:
    """The text form of a Python value for `key`, or ConfigError."""
    kind = _TYPES[key]
    bad = ConfigError(f"config: key '{key}' expects {_EXPECTS[key]}, got {_given(value)}")
    if isinstance(value, str) and kind != "list":
        return value  # the text form itself, checked by the C++ side like an environment variable
    if kind == "bool":
        if isinstance(value, bool):
            return "true" if value else "false"
        raise bad
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise bad
    if kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value)):
            return repr(float(value))
        raise bad
    if kind == "string":
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        raise bad
    if kind == "list":
        if isinstance(value, str):
            return value
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            if any("," in v for v in value):
                raise bad
            return ",".join(value)
        raise bad
    raise bad  # pragma: no cover - a type the key table does not have


def _from_text(key: str, text: str) -> Any:
    kind = _TYPES[key]
    if kind == "bool":
        return text == "true"
    if kind == "integer":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "list":
        return [t for t in text.split(",") if t]
    return text


def _flatten(prefix: str, value: Any, out: List[Tuple[str, Any]]) -> None:
    """A section given as a dict (thresholds={"io": {"warning": 2}}) -> dotted keys."""
    if isinstance(value, Mapping) and prefix in _SECTIONS:
        for k, v in value.items():
            _flatten(f"{prefix}.{k}", v, out)
        return
    out.append((prefix, value))


class _Section:
    """One section of the keys (``config.thresholds``, ``config.thresholds.io``)."""

    __slots__ = ("_config", "_prefix")

    def __init__(self, config: "Config", prefix: str) -> None:
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_prefix", prefix)

    def _full(self, name: str) -> str:
        return f"{self._prefix}.{name}"

    def __getattr__(self, name: str) -> Any:
        full = self._full(name)
        if full in _TYPES:
            return self._config.get(full)
        if full in _SECTIONS:
            return _Section(self._config, full)
        raise AttributeError(f"config section '{self._prefix}' has no key '{name}' "
                             f"(it has: {', '.join(self._children())})")

    def __setattr__(self, name: str, value: Any) -> None:
        full = self._full(name)
        if full in _SECTIONS and isinstance(value, Mapping):
            self._config.update({full: value})
            return
        if full not in _TYPES:
            raise _unknown(full)
        self._config.set(full, value)

    def _children(self) -> List[str]:
        depth = self._prefix.count(".") + 1
        names = {k.split(".")[depth] for k in _TYPES if k.startswith(self._prefix + ".")}
        return sorted(names)

    def __dir__(self) -> List[str]:
        return self._children()

    def to_dict(self) -> Dict[str, Any]:
        """This section's keys (relative names) and values."""
        n = len(self._prefix) + 1
        return {k[n:]: v for k, v in self._config.to_dict().items() if k.startswith(self._prefix + ".")}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Section):
            return self.to_dict() == other.to_dict()
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"<config section {self._prefix}: " + ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items()) + ">"


class Config:
    """codeprof's configuration: every key of docs/CONFIG.md as an attribute.

    ``Config(**settings)`` starts from the defaults (flat names: ``sampler_interval_ms=50``, sections as
    dicts: ``thresholds={"io": {"warning": 2.0}}``, or a mapping of dotted keys as the first argument);
    ``Config.load(path)`` reads a TOML file (then the environment); ``Config.from_env()`` reads
    ``CODEPROF_CONFIG``'s file, if any, and the ``CODEPROF_*`` variables.
    """

    __slots__ = ("_cpp",)

    def __init__(self, settings: Optional[Mapping[str, Any]] = None, /, **kwargs: Any) -> None:
        object.__setattr__(self, "_cpp", _codeprof._Config())
        if settings or kwargs:
            self.update(settings or {}, **kwargs)

    # ---- construction
    @classmethod
    def _wrap(cls, cpp: Any) -> "Config":
        c = cls.__new__(cls)
        object.__setattr__(c, "_cpp", cpp)
        return c

    @classmethod
    def load(cls, path: "os.PathLike[str] | str") -> "Config":
        """The defaults, then the TOML file at `path`, then the CODEPROF_* environment variables."""
        path = os.fspath(path)
        if os.path.isdir(path):
            raise ConfigError(f"{path}: is a directory (expected a TOML configuration file)")
        if not os.path.isfile(path):
            raise ConfigError(f"{path}: no such configuration file")
        return cls._wrap(_codeprof._Config.load(path))

    @classmethod
    def from_env(cls) -> "Config":
        """The defaults, then the file named by CODEPROF_CONFIG (if set), then CODEPROF_* variables."""
        return cls._wrap(_codeprof._Config.from_env())

    def copy(self) -> "Config":
        return Config._wrap(self._cpp.copy())

    __copy__ = copy

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Config":
        return self.copy()

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Config, (self.to_dict(),))

    # ---- keys
    @staticmethod
    def keys() -> List[str]:
        """Every dotted key, in docs/CONFIG.md's order."""
        return list(_TYPES)

    def get(self, key: str) -> Any:
        """The value of a key (dotted, flat or an alias) as a Python value."""
        full = _resolve(key)
        if full is None:
            raise _unknown(key)
        return _from_text(full, self._cpp.get(full))

    def set(self, key: str, value: Any) -> None:
        """Sets one key; ConfigError (nothing changed) when the key or value is not accepted."""
        self.update({key: value})

    def update(self, settings: Optional[Mapping[str, Any]] = None, /, **kwargs: Any) -> None:
        """Sets several keys at once: all of them, or none when any is rejected."""
        items: List[Tuple[str, Any]] = []
        for name, value in list((settings or {}).items()) + list(kwargs.items()):
            full = _resolve(name)
            if full is None and (name in _SECTIONS or name.replace("_", ".") in _SECTIONS):
                section = name if name in _SECTIONS else name.replace("_", ".")
                if not isinstance(value, Mapping):
                    raise ConfigError(f"config: section '{section}' expects a dict of its keys, got {_given(value)}")
                _flatten(section, value, items)
                continue
            if full is None:
                raise _unknown(name)
            items.append((full, value))
        texts = []
        for full, value in items:
            if full not in _TYPES:
                raise _unknown(full)
            texts.append((full, _to_text(full, value)))
        candidate = self._cpp.copy()
        # Keys that depend on each other (a warning above the old critical) may only pass in another
        # order: retry the rejected ones while any progress is made.
        pending = texts
        while pending:
            failed = []
            first_error: Optional[ConfigError] = None
            for full, text in pending:
                try:
                    candidate.set(full, text)
                except ConfigError as e:
                    failed.append((full, text))
                    first_error = first_error or e
            if len(failed) == len(pending):
                raise ConfigError(str(first_error)) from None
            pending = failed
        object.__setattr__(self, "_cpp", candidate)

    def to_dict(self) -> Dict[str, Any]:
        """Every key and its value."""
        return {k: _from_text(k, self._cpp.get(k)) for k in _TYPES}

    def changed(self) -> Dict[str, Any]:
        """The keys whose value differs from the default."""
        defaults = _codeprof._Config()
        return {k: _from_text(k, self._cpp.get(k)) for k in _TYPES if self._cpp.get(k) != defaults.get(k)}

    # ---- attribute and item access
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        full = _resolve(name)
        if full is not None:
            return self.get(full)
        if name in _SECTIONS:
            return _Section(self, name)
        raise AttributeError(f"codeprof.Config has no key '{name}' (keys: codeprof.Config.keys(), docs/CONFIG.md)")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SECTIONS and isinstance(value, Mapping):
            self.update({name: value})
            return
        full = _resolve(name)
        if full is None:
            raise _unknown(name)
        self.set(full, value)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and _resolve(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(_TYPES)

    def __dir__(self) -> List[str]:
        roots = {k.split(".")[0] for k in _TYPES}
        return sorted(roots | set(_FLAT) | {"load", "from_env", "copy", "keys", "get", "set", "update",
                                            "to_dict", "changed"})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Config):
            return NotImplemented
        return bool(self._cpp == other._cpp)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        changed = self.changed()
        inner = ", ".join(f"{k!r}: {v!r}" for k, v in changed.items())
        return f"codeprof.Config({{{inner}}})" if changed else "codeprof.Config()"
