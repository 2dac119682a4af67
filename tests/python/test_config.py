"""codeprof.Config: every key of docs/CONFIG.md as an attribute; bad input is a ValueError naming the
key and the expected form, and changes nothing."""
import os
import re
import subprocess
import sys

import pytest

import codeprof
from conftest import REPO, python_env

DOC_KEYS = re.findall(r"^\| `([a-z_.]+)` \|", open(os.path.join(REPO, "docs", "CONFIG.md")).read(), re.M)

SAMPLE = {"bool": (True, False), "integer": None, "float": None, "string": ("x", "y"), "list": (["json"], ["csv", "html"])}


def test_every_documented_key_is_an_attribute_that_round_trips():
    assert DOC_KEYS and set(DOC_KEYS) == set(codeprof.Config.keys())
    config = codeprof.Config()
    table = {k["name"]: k for k in codeprof.config_keys()}
    for key in DOC_KEYS:
        section = config
        *path, leaf = key.split(".")
        for part in path:
            section = getattr(section, part)
        default = getattr(section, leaf)
        assert config[key] == default == getattr(config, key.replace(".", "_"))
        kind = table[key]["type"]
        if kind == "bool":
            new = not default
        elif kind == "integer":
            new = default + 1 if key != "run.rank" else 3
        elif kind == "float":
            new = default / 2
        elif kind == "string":
            # Keys whose strings are checked get another valid value.
            new = {"dashboard.host": "127.0.0.2", "sampling.mechanism": "timer", "sampling.native": "off", "trace.policy": "first",
                   "alerts.webhook.format": "alertmanager",
                   "alerts.webhook.url": "http://127.0.0.1:9/alerts"}.get(key, "value")
        else:
            new = ["csv", "html"]
        setattr(section, leaf, new)
        assert config[key] == new, key
        setattr(section, leaf, default)
        assert config[key] == default
    assert config == codeprof.Config()


def test_established_and_cpp_field_names_are_aliases():
    config = codeprof.Config()
    config.enable_code_profiling = False
    assert config.enabled is False
    config.output_dir = "reports"
    config.export_formats = ("json", "html")
    config.buffer_events = 1024
    assert config.output.dir == "reports" and config.output.formats == ["json", "html"]
    assert config["buffer.events_per_thread"] == 1024


def test_keyword_and_section_construction():
    c = codeprof.Config(sampler_interval_ms=50, metrics={"cpu": True, "categories": {"io": False}},
                        thresholds={"data_loading": {"warning": 2.0, "critical": 20.0}})
    assert c.sampler.interval_ms == 50 and c.metrics.cpu and not c.metrics.categories.io
    assert c.thresholds.data_loading.to_dict() == {"warning": 2.0, "critical": 20.0}
    assert codeprof.Config({"trace.enabled": True}).trace.enabled
    assert c.changed() == {"thresholds.data_loading.warning": 2.0, "thresholds.data_loading.critical": 20.0,
                           "metrics.cpu": True, "metrics.categories.io": False, "sampler.interval_ms": 50}
    assert eval(repr(c), {"codeprof": codeprof}) == c
    # Several keys are applied together, whatever their order: a warning above the old critical is
    # fine when the new critical comes with it.
    c.update({"thresholds.io.warning": 30.0, "thresholds.io.critical": 60.0})
    assert (c.thresholds.io.warning, c.thresholds.io.critical) == (30.0, 60.0)


@pytest.mark.parametrize("name,value,expected", [
    ("sampler.interval_ms", 5, "an integer in [10, 60000]"),
    ("sampler.interval_ms", "fast", "an integer in [10, 60000]"),
    ("sampler.interval_ms", 1.5, "an integer in [10, 60000]"),
    ("sampler.interval_ms", True, "an integer in [10, 60000]"),
    ("dashboard.port", 70000, "an integer in [0, 65535]"),
    ("enabled", "maybe", "a bool (true/false)"),
    ("enabled", 1.0, "a bool (true/false)"),
    ("enabled", None, "a bool (true/false)"),
    ("analysis.low_priority_share", 1.5, "a number in [0, 1]"),
    ("analysis.low_priority_share", float("nan"), "a number in [0, 1]"),
    ("output.formats", ["json", "pdf"], "a list of formats from json, chrome, csv, prometheus, html"),
    ("output.formats", 7, "a list of formats from json, chrome, csv, prometheus, html"),
    ("output.dir", 3, "a string"),
    ("output.dir", "", "a non-empty path"),
    ("thresholds.io.warning", 9.0, "a value <= thresholds.io.critical (5)"),
])
def test_bad_values_name_the_key_and_the_expected_form_and_change_nothing(name, value, expected):
    config = codeprof.Config()
    before = config.to_dict()
    with pytest.raises(ValueError) as e:
        config[name] = value
    message = str(e.value)
    assert isinstance(e.value, codeprof.ConfigError)
    assert f"'{name}'" in message and expected in message, message
    assert config.to_dict() == before


def test_a_failed_update_applies_nothing():
    config = codeprof.Config()
    with pytest.raises(ValueError, match="sampler.interval_ms"):
        config.update(metrics_cpu=True, trace_enabled=True, sampler_interval_ms=-1)
    assert config == codeprof.Config()
    with pytest.raises(ValueError, match="unknown key 'sampler.intervl_ms'"):
        config.update({"metrics.cpu": True, "sampler.intervl_ms": 10})
    assert config == codeprof.Config()
    with pytest.raises(ValueError, match="unknown key 'samplr_interval_ms'"):
        codeprof.Config(samplr_interval_ms=10)
    with pytest.raises(ValueError, match="unknown key"):
        config.nonsense = 1
    with pytest.raises(ValueError, match="section 'thresholds' expects a dict"):
        config.update(thresholds=3)
    with pytest.raises(AttributeError, match="has no key 'warn'"):
        config.thresholds.io.warn  # noqa: B018


def test_load_and_from_env(tmp_path):
    toml = tmp_path / "codeprof.toml"
    toml.write_text("[sampler]\ninterval_ms = 40\n[thresholds.io]\nwarning = 0.5\ncritical = 3.0\n")
    c = codeprof.Config.load(toml)
    assert c.sampler.interval_ms == 40 and c.thresholds.io.critical == 3.0
    toml.write_text("[sampler]\ninterval_ms = 'fast'\n")
    with pytest.raises(codeprof.ConfigError, match=r"line 2: key 'sampler.interval_ms' expects an integer"):
        codeprof.Config.load(toml)
    with pytest.raises(codeprof.ConfigError, match="no such configuration file"):
        codeprof.Config.load(tmp_path / "missing.toml")
    with pytest.raises(codeprof.ConfigError, match="is a directory"):
        codeprof.Config.load(tmp_path)
    code = "import codeprof; c = codeprof.Config.from_env(); print(c.sampler.interval_ms, c.metrics.cpu)"
    env = python_env()
    env.update(CODEPROF_SAMPLER_INTERVAL_MS="25", CODEPROF_METRICS_CPU="yes")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["25", "True"], out.stderr
    env["CODEPROF_SAMPLR_INTERVAL_MS"] = "25"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "CODEPROF_SAMPLR_INTERVAL_MS" in out.stderr


def test_configs_copy_and_pickle():
    import copy
    import pickle
    c = codeprof.Config(metrics_cpu=True)
    d = copy.deepcopy(c)
    d.metrics.cpu = False
    assert c.metrics.cpu and not d.metrics.cpu
    assert pickle.loads(pickle.dumps(c)) == c


def test_a_bad_environment_for_the_default_profiler_is_a_config_error():
    # The process-wide profiler reads CODEPROF_* variables when first used: a bad one is the same
    # codeprof.ConfigError that Config.from_env() raises, naming the variable's key.
    env = python_env()
    env["CODEPROF_SAMPLER_INTERVAL_MS"] = "abc"
    code = ("import codeprof\n"
            "try:\n"
            "    codeprof.default_profiler()\n"
            "except codeprof.ConfigError as e:\n"
            "    print('ConfigError:', e)\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ConfigError:") and "sampler" in done.stdout, done.stdout
