"""PyTorch: operators under the Python scopes (the C++ RecordFunction observer), the PyTorch
profiler's traces analysed by codeprof, and CUDA (skipped without a GPU)."""
import os

import pytest

import codeprof
from conftest import quiet, spin

torch = pytest.importorskip("torch")
import codeprof.torch  # noqa: E402


def tree(snapshot):
    names = {op.id: op.name for op in snapshot.operations}
    out = {}
    for e in snapshot.call_tree:
        parent = names.get(e.parent_id) if e.parent_id is not None else None
        out.setdefault(parent, set()).add(names[e.child_id])
    return out


def test_operators_nest_under_the_python_scope_that_ran_them(profiler):
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    x = torch.randn(8, 16)
    with codeprof.torch.capture_ops(profiler) as capture:
        for _ in range(3):
            with profiler.profile_operation("forward", "training_loop"):
                loss = model(x).pow(2).mean()
            with profiler.profile_operation("backward", "training_loop"):
                loss.backward()
        assert capture.recorded > 0
    recorded = capture.recorded
    assert not capture.active
    with profiler.profile_operation("forward", "training_loop"):
        model(x)  # after close: no operators
    s = profiler.snapshot()
    children = tree(s)
    assert "aten::linear" in children["forward"] and "aten::relu" in children["forward"]
    assert any("Backward" in n for n in children["backward"]), children["backward"]
    assert s["aten::linear"].category == "cpu"
    assert s["aten::linear"].count == 6  # two layers, three steps; none after close
    assert recorded >= s["aten::linear"].count
    assert s["forward"].self_ns < s["forward"].total_ns


def test_capture_options_and_errors(profiler):
    with pytest.raises(ValueError, match="sample_rate"):
        codeprof.torch.capture_ops(profiler, sample_rate=1.5)
    with pytest.raises(ValueError, match="unknown category"):
        codeprof.torch.capture_ops(profiler, category="kernels")
    with codeprof.torch.capture_ops(profiler, autograd=False, category="model_inference"):
        with pytest.raises(RuntimeError, match="already installed"):
            codeprof.torch.capture_ops(profiler)
        with profiler.profile_operation("step", "training_loop"):
            y = torch.ones(4, requires_grad=True).sum()
            y.backward()
    s = profiler.snapshot()
    assert s["aten::sum"].category == "model_inference"
    assert "SumBackward0" not in s  # autograd nodes are off (the engine's own frame is an operator)
    with codeprof.torch.capture_ops(profiler, sample_rate=0.0) as none:
        torch.ones(3).sum()
    assert none.recorded == 0


def test_trace_handler_analyses_the_pytorch_profilers_trace(tmp_path):
    seen = []
    handler = codeprof.torch.trace_handler(str(tmp_path), on_report=lambda s, f: seen.append((s, f)))
    model = torch.nn.Linear(64, 64)

    class Slow(torch.utils.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            spin(0.003)
            return torch.randn(64)

    loader = torch.utils.data.DataLoader(Slow(), batch_size=1)
    schedule = torch.profiler.schedule(wait=0, warmup=1, active=3, repeat=1)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], schedule=schedule,
                                on_trace_ready=handler) as prof:
        for x in loader:
            with torch.profiler.record_function("load_batch"):
                pass
            model(x).sum().backward()
            prof.step()
    assert len(handler.traces) == 1 and os.path.getsize(handler.traces[0]) > 1000
    s, findings = seen[0]
    assert s is handler.snapshot and findings is handler.findings
    assert s.run.source in ("kineto", "chrome-trace")  # Debian's torch 1.13 writes a bare event array
    assert len(s.steps) == 3  # ProfilerStep#1..3
    assert "aten::linear" in s and "load_batch" in s
    assert findings.classification["input"]["steps"] == 3
    assert findings.classification["input"]["input_share"] > 0
    reports = {os.path.splitext(p)[1] for p in handler.reports}
    assert reports == {".json", ".html"}
    direct = codeprof.read_trace(handler.traces[0])
    assert direct["aten::linear"].count == s["aten::linear"].count


def test_read_trace_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"traceEvents": [{"ph": "X", "ts": }]}')
    with pytest.raises(codeprof.TraceReadError, match="bad.json"):
        codeprof.read_trace(bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_gpu_memory_and_time_per_scope():
    p = quiet(metrics={"gpu": True, "gpu_timing": True})
    x = torch.randn(2048, 2048, device="cuda")
    for _ in range(5):
        with p.profile_operation("gpu.matmul", "gpu"):
            y = x @ x
            torch.cuda.synchronize()
        with p.profile_operation("gpu.alloc", "memory"):
            keep = torch.empty(64 << 20, dtype=torch.uint8, device="cuda")
            del keep
    s = p.snapshot()
    assert s["gpu.matmul"].resources["gpu_time_ns"].total > 0
    assert "gpu_mem_delta_bytes" in s["gpu.alloc"].resources
    del y


def test_errors_stay_python_exceptions_when_torch_is_imported_first():
    # PyTorch puts libgcc_s into the process first; a library that brought its own _Unwind_*
    # (libunwind.so, linked) made codeprof's C++ exceptions uncatchable: std::terminate at import.
    import subprocess
    import sys
    code = (
        "import torch, codeprof\n"
        "try:\n"
        "    codeprof.Config(enabled='sometimes')\n"
        "except ValueError as e:\n"
        "    print('ValueError:', e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ValueError:" in done.stdout and "enabled" in done.stdout
