"""Builds codeprof's Python extension modules with the project's CMake build (pyproject.toml holds
the metadata). The CMake build directory is build/pip (reused: a second install only relinks).

Environment: CMAKE_ARGS adds CMake arguments (e.g. "-DCODEPROF_WITH_TORCH=OFF"); CMAKE_BUILD_PARALLEL_LEVEL
sets the build jobs. libtorch's operator capture (codeprof.torch.capture_ops) is built when Debian's
libtorch-dev is installed.
"""
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
MODULES = ["_codeprof", "_codeprof_torch"]


def torch_cmake_config():
    """libtorch-dev's CMake package (Debian: /usr/lib/<triplet>/cmake/Torch)."""
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    for d in (f"/usr/lib/{multiarch}/cmake/Torch", "/usr/lib/cmake/Torch", "/usr/local/lib/cmake/Torch"):
        if os.path.isfile(os.path.join(d, "TorchConfig.cmake")):
            return d
    return None


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class BuildWithCMake(build_ext):
    def run(self):
        for tool in ("cmake", "ninja"):
            if shutil.which(tool) is None:
                sys.exit(f"codeprof: building the extension needs `{tool}` (apt-get install cmake ninja-build; "
                         "scripts/setup.sh installs everything the build needs)")
        if not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")):
            sys.exit(f"codeprof: building the extension needs Python's headers for {sys.executable} "
                     "(apt-get install python3-dev; scripts/setup.sh installs everything the build needs)")
        extra = []
        if not any(os.path.isfile(os.path.join(d, "pybind11Config.cmake"))
                   for d in ("/usr/lib/cmake/pybind11", "/usr/share/cmake/pybind11", "/usr/local/share/cmake/pybind11")):
            try:
                import pybind11  # a pip-installed pybind11 brings its CMake files
                extra.append(f"-Dpybind11_DIR={pybind11.get_cmake_dir()}")
            except ImportError:
                sys.exit("codeprof: building the extension needs pybind11 (apt-get install pybind11-dev; "
                         "scripts/setup.sh installs everything the build needs)")
        print("codeprof: compiling the C++ library and the extension (a few minutes the first time)", flush=True)
        build_dir = os.path.join(ROOT, "build", "pip")
        args = ["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                f"-DPYTHON_EXECUTABLE={sys.executable}", "-DCODEPROF_BUILD_TESTS=OFF",
                "-DCODEPROF_BUILD_BENCH=OFF", "-DCODEPROF_WERROR=OFF", "-DCODEPROF_WITH_PYTHON=ON",
                f"-DCODEPROF_WITH_TORCH={'ON' if torch_cmake_config() else 'OFF'}"]
        args += extra + shlex.split(os.environ.get("CMAKE_ARGS", ""))
        subprocess.check_call(args)
        subprocess.check_call(["cmake", "--build", build_dir, "--target", "codeprof_python_package"])
        built = os.path.join(build_dir, "python", "codeprof")
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        for ext in self.extensions:
            module = ext.name.split(".")[-1]
            source = os.path.join(built, module + suffix)
            if not os.path.isfile(source):
                if module == "_codeprof_torch":
                    print("codeprof: libtorch-dev not found: codeprof.torch.capture_ops is not built", file=sys.stderr)
                    continue
                sys.exit(f"codeprof: the build did not produce {source}")
            target = self.get_ext_fullpath(ext.name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(source, target)
            shutil.copymode(source, target)
        # The socket counters and the allocation hooks for LD_PRELOAD (codeprof.network_library(),
        # codeprof.alloc_library()), next to the modules.
        for name in ("libcodeprof_net.so", "libcodeprof_alloc.so"):
            preload = os.path.join(built, name)
            if os.path.isfile(preload):
                target = os.path.join(os.path.dirname(self.get_ext_fullpath("codeprof._codeprof")), name)
                shutil.copyfile(preload, target)
                shutil.copymode(preload, target)


setup(ext_modules=[CMakeExtension(f"codeprof.{m}") for m in MODULES], cmdclass={"build_ext": BuildWithCMake})
