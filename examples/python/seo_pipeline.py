#!/usr/bin/env python3
"""seo_pipeline.py: the codeprof demo in Python on PyTorch. A page-quality model for an SEO engine,
trained on a synthetic web corpus and profiled end to end: corpus I/O, a Dataset that cleans and
tokenises HTML, a DataLoader with worker processes, training with gradient accumulation, an LR
schedule, early stopping and (where it pays) bf16 autocast, then batched scoring of held-out
pages. PyTorch's operators are captured under the stage that ran them. At the end: bottlenecks,
classification and recommendations on stdout, reports in --output.

    python3 examples/python/seo_pipeline.py                          a reasonable pipeline
    python3 examples/python/seo_pipeline.py --plant no-workers,leak  the same with known problems
    python3 examples/python/seo_pipeline.py --serve                  with the live dashboard
"""
from __future__ import annotations

import os
import random
import signal
import sys
import time

import torch

import codeprof
import codeprof.torch
from seo import corpus as corpus_lib
from seo import options as options_lib
from seo import text
from seo.dataset import PageDataset, PreparedDataset
from seo.training import batch_loader, train_and_score


def profiler_config(o) -> codeprof.Config:
    config = codeprof.Config.from_env()  # CODEPROF_* variables still apply
    config.update({
        "analysis.step_operation": "train_step",
        "output.dir": o.output,
        "trace.enabled": True,           # for the Chrome trace; bounded by the budget
        "trace.budget_events": 100_000,  # kept events are the profiler's own memory
        "sampler.interval_ms": 50,       # a finer RSS/CPU timeline: runs are short
        # Per-scope CPU time and I/O where scopes are coarse; the per-page preprocessing scopes and
        # the operators are too fine-grained to pay for a probe each. Not on data_loading: the
        # training process receives its batches from the worker processes through a pipe, and the
        # I/O probe (read bytes of the thread) would count those reads as if they were storage.
        "metrics.cpu": True,
        "metrics.io": True,
        "metrics.categories.preprocessing": False,
        "metrics.categories.cpu": False,
        "metrics.categories.data_loading": False,
    })
    return config


def split_pages(corpus) -> tuple:
    """Train / validation / held-out by page id: 80 / 10 / 10."""
    train, val, test = [], [], []
    for i, page in enumerate(corpus.pages):
        bucket = page.id % 10
        (test if bucket == 0 else val if bucket == 1 else train).append(i)
    return train, val, test


def run(o) -> int:
    profiler = codeprof.CodeProfiler(profiler_config(o))
    log = (lambda m: print(m, file=sys.stderr, flush=True)) if o.progress else (lambda m: None)
    dashboard = None
    if o.serve:
        dashboard = profiler.serve(port=o.port)
        print(f"dashboard: {dashboard.url}", file=sys.stderr, flush=True)
    capture = codeprof.torch.capture_ops(profiler, sample_rate=o.torch_ops) if o.torch_ops > 0 else None

    # ---- data
    directory = os.path.join(o.data_dir, f"corpus_{o.corpus_mb:g}mb_seed{o.seed}")
    t0 = time.perf_counter()
    corpus, generated = corpus_lib.ensure_corpus(directory, o.corpus_mb, o.seed, profiler)
    log(f"corpus: {directory}: {len(corpus.pages)} pages"
        + (f" (generated in {time.perf_counter() - t0:.1f} s; the profile starts after it)" if generated else ""))
    if o.generate_only:
        return 0
    if generated:
        profiler.reset()  # a one-time preparation, not part of the pipeline being profiled

    train, val, test = split_pages(corpus)
    store = corpus_lib.CorpusStore(corpus, profiler)
    tokenizer = text.tokenize_slow if o.tokenizer == "slow" else text.tokenize_fast
    with profiler.profile_operation("build_vocabulary", "preprocessing"):
        sample = []
        for i in random.Random(o.seed).sample(train, min(o.vocab_sample, len(train))):
            with profiler.profile_operation("clean_html", "preprocessing"):
                parsed = text.parse_html(store.page(i))
            with profiler.profile_operation("tokenize", "preprocessing"):
                sample.append(tokenizer(parsed.text))
        vocabulary = text.build_vocabulary(sample, o.vocab_size)
    log(f"vocabulary: {len(vocabulary) + 2} tokens from {len(sample)} pages")

    # Validation and held-out pages never change: prepared once and kept.
    with profiler.profile_operation("prepare_eval_pages", "preprocessing"):
        prepare = PageDataset(store, val + test, vocabulary, tokenizer, o.max_tokens, profiler)
        examples = [prepare.prepare(k) for k in range(len(prepare))]
    val_loader = batch_loader(PreparedDataset(examples[:len(val)], profiler), o.batch_size, False, 0, 0, o.start_method,
                              o.seed, False)
    test_loader = batch_loader(PreparedDataset(examples[len(val):], profiler), o.batch_size, False, 0, 0,
                               o.start_method, o.seed, False)

    def train_dataset(epoch: int):
        """The training pages, prepared on the fly by the loader's workers every epoch. With
        --plant no-cache the corpus is read from disk again for every epoch."""
        source = corpus_lib.CorpusStore(corpus, profiler) if o.reread_corpus else store
        dataset = PageDataset(source, train, vocabulary, tokenizer, o.max_tokens, profiler)
        return batch_loader(dataset, o.batch_size, True, o.workers, o.prefetch, o.start_method, o.seed + epoch,
                            persistent=not o.reread_corpus)

    # ---- model
    result = train_and_score(o, train_dataset, val_loader, test_loader, len(vocabulary) + 2, profiler, log)
    os.makedirs(o.output, exist_ok=True)
    with profiler.profile_operation("write_predictions", "io"):
        with open(os.path.join(o.output, "predictions.csv"), "w") as f:
            f.write("id,predicted,actual\n")
            f.writelines(f"{i},{p:.6f},{a:.6f}\n" for i, p, a in result.predictions)
    if capture is not None:
        capture.close()  # stop capturing operators before the analysis

    print("\n== Model")
    print(f"  epochs {result.epochs}{' (early stopped)' if result.early_stopped else ''} (best {result.best_epoch}, "
          f"validation MSE {result.best_val_mse:.5f}), {result.steps} steps, {result.optimizer_steps} optimizer steps, "
          f"final lr {result.final_lr:.5f}")
    print(f"  precision: {result.precision} ({result.precision_reason})")
    print(f"  held-out: {len(result.predictions)} pages scored at {result.pages_per_second:.0f} pages/s; MAE "
          f"{result.mae:.4f} (predicting the mean: {result.baseline_mae:.4f}), correlation {result.correlation:.3f}")
    if result.notes:
        print("\n== Not done on this machine")
        for what, why in result.notes.items():
            print(f"  {what}: {why}")

    # ---- profile
    findings = profiler.analyze()
    print()
    print(findings)
    metadata = {
        "pipeline": "seo_pipeline.py", "plants": ",".join(o.plant) or "none",
        "model.precision": result.precision, "model.precision_reason": result.precision_reason,
        "model.epochs": str(result.epochs), "model.early_stopped": str(result.early_stopped).lower(),
        "model.best_val_mse": f"{result.best_val_mse:.6f}",
        "inference.pages_per_second": f"{result.pages_per_second:.1f}", "inference.mae": f"{result.mae:.5f}",
        "inference.correlation": f"{result.correlation:.4f}",
        "loader.workers": str(o.workers), "loader.prefetch": str(o.prefetch), "loader.start_method": o.start_method,
        "batch_size": str(o.batch_size),  # the key the analysis reads
    }
    paths = profiler.export_all(o.output, metadata=metadata, unavailable=result.notes)
    print("\n== Reports")
    for path in paths + [os.path.join(o.output, "predictions.csv")]:
        print(f"  {path}")
    sys.stdout.flush()

    if dashboard is not None:
        print(f"\nrun finished; the dashboard stays up at {dashboard.url} (Ctrl-C to exit)", file=sys.stderr, flush=True)
        try:
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


def main(argv=None) -> int:
    o = options_lib.parse(argv)
    try:
        return run(o)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"seo_pipeline: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
