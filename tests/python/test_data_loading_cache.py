"""The data-loading-cache rule with a real DataLoader: a loop that reads its files again every epoch
is told to cache them; a loop whose DataLoader workers send the batches through pipes is not (the
parent's reads are the batches arriving, not data read again)."""
import pytest

import codeprof
from conftest import spin

torch = pytest.importorskip("torch")
import codeprof.torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

ITEMS, BATCH, ITEM_BYTES, EPOCHS = 24, 4, 256 * 1024, 3


class InMemory(Dataset):
    """Items made in memory: nothing is read from files."""

    def __len__(self):
        return ITEMS

    def __getitem__(self, i):
        return bytes([i % 256]) * ITEM_BYTES


class FromFile(Dataset):
    """Each item read from a file, every time it is asked for (no cache)."""

    def __init__(self, path):
        self.path = path

    def __len__(self):
        return ITEMS

    def __getitem__(self, i):
        with open(self.path, "rb") as f:
            f.seek(i * ITEM_BYTES)
            return f.read(ITEM_BYTES)


def train(dataset, workers):
    p = codeprof.CodeProfiler(codeprof.Config(sampler_enabled=False, metrics_io=True))
    loader = codeprof.torch.profile_dataloader(
        DataLoader(dataset, batch_size=BATCH, num_workers=workers, collate_fn=list), p)
    steps = 0
    for _ in range(EPOCHS):
        for batch in loader:
            with p.profile_operation("train_step", "training_loop"):
                assert len(batch) == BATCH
                spin(0.002)
            steps += 1
    assert steps == EPOCHS * ITEMS // BATCH
    next_batch = p.snapshot()["next_batch"]
    rules = {r.id for r in p.get_performance_recommendations()}
    return next_batch, rules


def test_rereading_files_every_epoch_is_told_to_cache(tmp_path):
    data = tmp_path / "items.bin"
    data.write_bytes(bytes(ITEMS * ITEM_BYTES))
    _, rules = train(FromFile(str(data)), workers=0)
    assert "data-loading-cache" in rules


def test_batches_from_worker_processes_are_not_rereads():
    next_batch, rules = train(InMemory(), workers=2)
    # The parent did read the batches from the workers' pipes (what the rule used to count) ...
    assert next_batch.resources["io_read_bytes"].total >= EPOCHS * ITEMS * ITEM_BYTES
    # ... and nothing in it is data read again.
    assert "data-loading-cache" not in rules
