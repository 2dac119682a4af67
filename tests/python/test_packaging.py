"""The package's metadata and type stubs agree with the code."""
import ast
import importlib.util
import os
import re

import codeprof
from conftest import REPO

PACKAGE = os.path.dirname(os.path.abspath(codeprof.__file__))


def test_versions_agree():
    header = open(os.path.join(REPO, "include", "codeprof", "version.hpp")).read()
    cpp = re.search(r'CODEPROF_VERSION_STRING "([^"]+)"', header).group(1)
    pyproject = open(os.path.join(REPO, "pyproject.toml")).read()
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == cpp == codeprof.__version__
    assert re.search(r'^requires-python = "', pyproject, re.M) and re.search(r"^license = ", pyproject, re.M)


def test_the_config_stub_is_current():
    spec = importlib.util.spec_from_file_location("generate_config_stub",
                                                  os.path.join(REPO, "python", "generate_config_stub.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = open(os.path.join(REPO, "python", "codeprof", "_config.pyi")).read()
    assert committed == module.render(), "run python/generate_config_stub.py"
    for key in codeprof.Config.keys():
        assert f"    {key.split('.')[-1]}:" in committed


def test_stubs_are_valid_python_and_ship_with_the_package():
    for name in ("_config.pyi", "_codeprof.pyi", "py.typed"):
        assert os.path.exists(os.path.join(PACKAGE, name)), name
    for name in ("_config.pyi", "_codeprof.pyi"):
        ast.parse(open(os.path.join(PACKAGE, name)).read())
    stub = open(os.path.join(PACKAGE, "_codeprof.pyi")).read()
    for cls in ("ProfilerCore", "OperationScope", "Snapshot", "OperationStats", "ThreadStats", "RunInfo"):
        assert f"class {cls}" in stub


def test_public_names_exist():
    for name in codeprof.__all__:
        assert hasattr(codeprof, name), name
    p = codeprof.CodeProfiler(sampler_enabled=False)
    for method in ("profile_operation", "profile", "profile_iter", "get_bottlenecks", "get_performance_recommendations",
                   "export_profiling_data", "export_all", "enable", "disable", "set_category_enabled", "reset",
                   "snapshot", "serve", "analyze", "processes"):
        assert callable(getattr(p, method)), method
