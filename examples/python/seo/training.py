"""The page-quality model and its training: gradient accumulation, a step LR schedule, early
stopping on the validation loss, bf16 autocast where it is faster, then batched scoring of the
held-out pages. Every stage is a codeprof operation; libtorch's operators nest under them."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

import codeprof
import codeprof.torch
from . import text
from .dataset import Batch


class SeoModel(torch.nn.Module):
    """Page quality from the words (mean of word embeddings) and the dense SEO features."""

    def __init__(self, vocab: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.bag = torch.nn.EmbeddingBag(vocab, dim, mode="mean", padding_idx=text.PAD)
        self.fc1 = torch.nn.Linear(dim + text.FEATURES, hidden)
        self.fc2 = torch.nn.Linear(hidden, max(hidden // 2, 1))
        self.head = torch.nn.Linear(max(hidden // 2, 1), 1)

    def forward(self, tokens: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.bag(tokens), features], dim=1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return torch.sigmoid(self.head(x)).squeeze(1)


@dataclass
class ModelRun:
    epochs: int = 0
    early_stopped: bool = False
    best_epoch: int = 0
    best_val_mse: float = math.inf
    steps: int = 0
    optimizer_steps: int = 0
    final_lr: float = 0.0
    precision: str = "fp32"
    precision_reason: str = ""
    pages_per_second: float = 0.0
    mae: float = 0.0
    baseline_mae: float = 0.0
    correlation: float = 0.0
    predictions: List[tuple] = field(default_factory=list)
    notes: Dict[str, str] = field(default_factory=dict)


def predict(model: SeoModel, batch: Batch, bf16: bool) -> torch.Tensor:
    if bf16:
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            return model(batch.tokens, batch.features).float()
    return model(batch.tokens, batch.features)


def choose_bf16(options: Any, model: SeoModel, probe: Batch, profiler: codeprof.CodeProfiler, run: ModelRun) -> bool:
    """bf16 autocast on request, or (auto) when a measured forward + backward is clearly faster."""
    with profiler.profile_operation("bf16_autocast_probe", "mixed_precision"):
        if options.precision == "fp32":
            run.precision, run.precision_reason = "fp32", "--precision fp32"
            run.notes["mixed_precision"] = "disabled by --precision fp32"
            return False

        def best_ms(bf16: bool) -> float:
            times = []
            for _ in range(4):  # the first pass warms up
                t0 = time.perf_counter()
                torch.nn.functional.mse_loss(predict(model, probe, bf16), probe.targets).backward()
                times.append((time.perf_counter() - t0) * 1e3)
            model.zero_grad(set_to_none=True)
            return min(times[1:])

        try:
            bf16_ms = best_ms(True)
        except RuntimeError as e:
            run.precision, run.precision_reason = "fp32", f"bf16 autocast failed on this CPU: {e}"
            run.notes["mixed_precision"] = run.precision_reason
            return False
        if options.precision == "bf16":
            run.precision, run.precision_reason = "bf16 autocast", "--precision bf16"
            return True
        fp32_ms = best_ms(False)
        if bf16_ms < 0.8 * fp32_ms:  # a clear win only: the timings are noisy
            run.precision = "bf16 autocast"
            run.precision_reason = f"bf16 autocast is faster here: {bf16_ms:.2f} ms vs {fp32_ms:.2f} ms fp32"
            return True
        run.precision_reason = (f"bf16 autocast works but is not faster on this CPU: {bf16_ms:.2f} ms vs "
                                f"{fp32_ms:.2f} ms fp32 per forward+backward; trained in fp32")
        run.notes["mixed_precision"] = run.precision_reason
        return False


def batch_loader(dataset: Any, batch_size: int, shuffle: bool, workers: int, prefetch: int, start_method: str,
                 seed: int, persistent: bool) -> DataLoader:
    sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)) if shuffle else SequentialSampler(dataset)
    kwargs: Dict[str, Any] = {}
    if workers > 0:
        kwargs = {"num_workers": workers, "prefetch_factor": max(prefetch, 1), "persistent_workers": persistent,
                  "multiprocessing_context": start_method}
    return DataLoader(dataset, batch_size=None, sampler=BatchSampler(sampler, batch_size, drop_last=False), **kwargs)


def evaluate(model: SeoModel, loader: Any, bf16: bool, profiler: codeprof.CodeProfiler, scope: str) -> tuple:
    p = profiler
    loss_sum, pages, predictions = 0.0, 0, []
    it = iter(loader)
    for _ in range(len(loader)):
        with p.profile_operation("next_batch", "data_loading"):
            raw = next(it)
        with p.profile_operation(scope, "model_inference"):
            batch = raw.to_tensors()
            out = predict(model, batch, bf16)
            loss_sum += float(torch.nn.functional.mse_loss(out, batch.targets, reduction="sum"))
            pages += len(batch.page_ids)
            predictions.extend(zip(batch.page_ids, out.tolist(), batch.targets.tolist()))
    return (loss_sum / pages if pages else 0.0), predictions


def train_and_score(o: Any, train_dataset: Any, val_loader: Any, test_loader: Any, vocab_size: int,
                    profiler: codeprof.CodeProfiler, log: Any) -> ModelRun:
    p = profiler
    run = ModelRun()
    torch.set_num_threads(o.threads)
    torch.manual_seed(o.seed)
    with p.profile_operation("cuda_device_query", "gpu"):
        devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if devices == 0:
        run.notes["gpu"] = "no CUDA device: torch.cuda.is_available() is false; the model runs on the CPU"
    with p.profile_operation("data_parallel_setup", "multi_gpu"):
        if devices < 2:
            run.notes["multi_gpu"] = f"skipped: data-parallel training needs 2 or more CUDA devices, found {devices}"

    model = SeoModel(vocab_size, o.embed_dim, o.hidden)
    bf16 = choose_bf16(o, model, next(iter(val_loader)).to_tensors(), p, run)
    optimizer = torch.optim.Adam(model.parameters(), lr=o.lr, foreach=True)  # one multi-tensor update
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=o.lr_step, gamma=o.lr_gamma)
    best_weights: Optional[List[torch.Tensor]] = None
    stale_epochs = 0
    history: List[torch.Tensor] = []  # --plant leak: every step's tensors, never cleared

    loader = None
    for epoch in range(o.epochs):
        if loader is None or o.reread_corpus:
            # Workers send what they recorded after every batch; the loop times next() itself.
            loader = codeprof.torch.profile_dataloader(train_dataset(epoch), p, name=None)
        model.train()
        it = iter(loader)
        loss_sum, pages = 0.0, 0
        for s in range(len(loader)):
            with p.profile_operation("train_step", "training_loop"):
                with p.profile_operation("next_batch", "data_loading"):
                    raw = next(it)
                with p.profile_operation("batch_to_tensors", "memory"):
                    batch = raw.to_tensors()
                if bf16:
                    with p.profile_operation("forward_bf16_autocast", "mixed_precision"):
                        prediction = predict(model, batch, True)
                else:
                    with p.profile_operation("forward", "training_loop"):
                        prediction = predict(model, batch, False)
                with p.profile_operation("loss", "training_loop"):
                    loss = torch.nn.functional.mse_loss(prediction, batch.targets) / o.grad_accum
                with p.profile_operation("backward", "training_loop"):
                    loss.backward()
                if o.leak:
                    history += [batch.tokens, batch.features, prediction.detach()]
                    history += [q.grad.clone() for q in model.parameters()]
                run.steps += 1
                if run.steps % o.grad_accum == 0 or s + 1 == len(loader):
                    with p.profile_operation("optimizer_step", "gradient_accumulation"):
                        optimizer.step()
                        optimizer.zero_grad(set_to_none=True)
                    run.optimizer_steps += 1
                loss_sum += float(loss) * o.grad_accum * len(batch.page_ids)
                pages += len(batch.page_ids)
        with p.profile_operation("validate", "model_inference"):
            model.eval()
            with torch.no_grad():
                val_mse, _ = evaluate(model, val_loader, bf16, p, "val_forward")
        run.epochs += 1
        log(f"epoch {epoch + 1}/{o.epochs}: train loss {loss_sum / max(pages, 1):.4f}, validation MSE {val_mse:.5f}, "
            f"lr {optimizer.param_groups[0]['lr']:.5f}")
        stop = False
        with p.profile_operation("early_stopping_check", "early_stopping"):
            if val_mse < run.best_val_mse - 1e-5:
                run.best_val_mse, run.best_epoch, stale_epochs = val_mse, epoch + 1, 0
                with p.profile_operation("save_best_weights", "memory"):
                    best_weights = [t.detach().clone() for t in model.parameters()]
            else:
                stale_epochs += 1
                stop = stale_epochs >= o.patience and epoch + 1 < o.epochs
        if stop:
            run.early_stopped = True
            log(f"early stopping: no validation improvement for {o.patience} epochs (best at epoch {run.best_epoch})")
            break
        with p.profile_operation("lr_scheduler_step", "lr_scheduling"):
            scheduler.step()
    run.final_lr = optimizer.param_groups[0]["lr"]
    if best_weights is not None:
        with p.profile_operation("restore_best_weights", "memory"):
            with torch.no_grad():
                for param, best in zip(model.parameters(), best_weights):
                    param.copy_(best)

    with p.profile_operation("score_held_out", "model_inference"):
        model.eval()
        t0 = time.perf_counter()
        with torch.inference_mode():
            _, run.predictions = evaluate(model, test_loader, bf16, p, "score_batch")
        elapsed = time.perf_counter() - t0
    n = len(run.predictions)
    run.pages_per_second = n / elapsed if elapsed > 0 else 0.0
    if n:
        mean = sum(a for _, _, a in run.predictions) / n
        run.mae = sum(abs(pr - a) for _, pr, a in run.predictions) / n
        run.baseline_mae = sum(abs(mean - a) for _, _, a in run.predictions) / n
        pr = torch.tensor([x[1] for x in run.predictions])
        ac = torch.tensor([x[2] for x in run.predictions])
        run.correlation = float(torch.corrcoef(torch.stack([pr, ac]))[0, 1]) if n > 1 else 0.0
    return run
