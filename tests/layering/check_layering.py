#!/usr/bin/env python3
"""Checks every #include of the library against the layer table in docs/ARCHITECTURE.md.

The table is the fenced block tagged `layers` in that document: one line per layer,
    name | path prefixes (files or folders) | layers it may include
A file belongs to the layer with the longest matching path prefix. A quoted include is resolved
against include/ and src/ (and the including file's folder); including a file of a layer that is
not the same layer and not listed is a violation. Files under src/, include/ and python/ that no
layer claims are violations too, so the table stays complete. Public headers (include/codeprof)
of the layers marked `public-std-only` may include only the standard library.

Usage: check_layering.py REPO_ROOT      exit 0: clean; 1: violations (listed); 2: bad table
"""
import pathlib
import re
import sys

# C++ standard library headers (C++20) and the C headers the hot path is allowed to use.
STD_HEADERS = set("""
algorithm any array atomic barrier bit bitset cassert cctype cerrno cfloat charconv chrono cinttypes
climits clocale cmath codecvt compare complex concepts condition_variable coroutine csetjmp csignal
cstdarg cstddef cstdint cstdio cstdlib cstring ctime cuchar cwchar cwctype deque exception execution
filesystem format forward_list fstream functional future initializer_list iomanip ios iosfwd
iostream istream iterator latch limits list locale map memory memory_resource mutex new numbers
numeric optional ostream queue random ranges ratio regex scoped_allocator semaphore set
shared_mutex source_location span sstream stack stdexcept stop_token streambuf string string_view
syncstream system_error thread tuple type_traits typeindex typeinfo unordered_map unordered_set
utility valarray variant vector version x86intrin.h
""".split())

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def read_table(root):
    doc = (root / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    block = re.search(r"^```layers\n(.*?)^```", doc, re.M | re.S)
    if not block:
        sys.exit("docs/ARCHITECTURE.md: no ```layers block (name | paths | may include)")
    layers, std_only = {}, set()
    for n, line in enumerate(block.group(1).splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) not in (3, 4):
            sys.exit(f"docs/ARCHITECTURE.md layers block, line {n}: expected 'name | paths | may include"
                     f" [| public-std-only]', got {line!r}")
        name, paths, deps = parts[0], parts[1].split(), set(parts[2].split())
        layers[name] = (paths, deps)
        if len(parts) == 4 and parts[3] == "public-std-only":
            std_only.add(name)
    for name, (_, deps) in layers.items():
        unknown = deps - set(layers)
        if unknown:
            sys.exit(f"docs/ARCHITECTURE.md layers block: layer {name} names unknown layers {sorted(unknown)}")
    return layers, std_only


def layer_of(rel, layers):
    best, best_len = None, -1
    for name, (paths, _) in layers.items():
        for p in paths:
            if (rel == p or rel.startswith(p.rstrip("/") + "/")) and len(p) > best_len:
                best, best_len = name, len(p)
    return best


def resolve(root, source, target):
    for base in (source.parent, root / "include", root / "src"):
        candidate = base / target
        if candidate.is_file():
            return candidate.resolve().relative_to(root).as_posix()
    return None


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    layers, std_only = read_table(root)
    files = [p for d in ("include", "src", "python") if (root / d).is_dir()
             for p in (root / d).rglob("*") if p.suffix in (".hpp", ".h", ".cpp", ".cc")]
    problems = []
    for path in sorted(files):
        rel = path.relative_to(root).as_posix()
        layer = layer_of(rel, layers)
        if layer is None:
            problems.append(f"{rel}: belongs to no layer of docs/ARCHITECTURE.md's table")
            continue
        allowed = layers[layer][1] | {layer}
        for kind, target in INCLUDE.findall(path.read_text(encoding="utf-8", errors="replace")):
            if kind == "<":
                if layer in std_only and rel.startswith("include/") and target not in STD_HEADERS:
                    problems.append(f"{rel}: public header of layer {layer} includes <{target}>, "
                                    "expected the standard library only")
                continue
            resolved = resolve(root, path, target)
            if resolved is None:
                continue  # generated or third-party; the compiler checks it exists
            other = layer_of(resolved, layers)
            if other is not None and other not in allowed:
                problems.append(f"{rel} (layer {layer}) includes {resolved} (layer {other}); "
                                f"{layer} may include only {sorted(allowed)}")
    for p in problems:
        print(p)
    print(f"layering: {len(files)} files, {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
