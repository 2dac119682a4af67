"""Shared helpers for the Python package's tests. They run against the built package
(PYTHONPATH=build/<preset>/python, set by CTest) or an installed one."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

import codeprof

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def quiet(**settings):
    """A profiler without the background sampler (tests that do not read timelines)."""
    return codeprof.CodeProfiler(codeprof.Config(sampler_enabled=False, **settings))


def spin(seconds):
    """Busy work of a known minimum length (sleep would show as waiting, not work)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def python_env():
    """The environment a child Python needs to import the same codeprof."""
    env = dict(os.environ)
    paths = [os.path.dirname(os.path.dirname(os.path.abspath(codeprof.__file__)))]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run_without_preload(code):
    """Runs `code` in a child Python that imports this codeprof with nothing in LD_PRELOAD, as a user
    who skipped the preload; returns its standard output (a failing child fails the test)."""
    env = python_env()
    env.pop("LD_PRELOAD", None)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def profiler():
    return quiet()
