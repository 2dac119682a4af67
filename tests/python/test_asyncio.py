"""asyncio: tasks interleave on the loop's thread, so their scopes end out of order. Every scope
still records its full duration, interleaving is counted, and nesting is right afterwards."""
import asyncio

import codeprof
from conftest import quiet


def test_interleaved_tasks_record_every_scope_and_nesting_recovers():
    p = quiet()

    async def fetch(name, first, second):
        with p.profile_operation("aio.fetch", "io"):
            await asyncio.sleep(first)
            with p.profile_operation("aio.parse", "preprocessing"):
                await asyncio.sleep(second)
        return name

    async def main():
        # a ends while b is still open (a began first, ends first): out of order on one thread.
        return await asyncio.gather(fetch("a", 0.01, 0.0), fetch("b", 0.0, 0.05), fetch("c", 0.02, 0.02))

    assert asyncio.run(main()) == ["a", "b", "c"]
    with p.profile_operation("aio.after", "training_loop"):
        pass
    s = p.snapshot()
    assert s["aio.fetch"].count == 3 and s["aio.parse"].count == 3
    assert s["aio.fetch"].max_ns >= 50_000_000  # b's fetch spans its 50 ms parse
    assert s.events_misnested > 0
    top_level = {e.child_id for e in s.call_tree if e.parent_id is None}
    assert s["aio.after"].id in top_level


def test_decorated_coroutines_and_async_generators():
    p = quiet()

    @p.profile("aio.coro", "io")
    async def one(x):
        await asyncio.sleep(0.001)
        return x

    @p.profile("aio.agen", "data_loading")
    async def batches(n):
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    async def main():
        values = await asyncio.gather(*(one(i) for i in range(5)))
        items = [i async for i in batches(3)]
        return values, items

    assert asyncio.run(main()) == ([0, 1, 2, 3, 4], [0, 1, 2])
    s = p.snapshot()
    assert s["aio.coro"].count == 5 and s["aio.coro"].min_ns >= 1_000_000
    assert s["aio.agen"].count == 4  # three items and the step that ends the generator


def test_record_span_of_a_wait_measured_elsewhere():
    p = quiet()
    start = p.ticks()
    asyncio.run(asyncio.sleep(0.002))
    with p.profile_operation("aio.outer", "training_loop"):
        assert p.record_span("aio.queue_wait", codeprof.Category.DATA_LOADING, start, p.ticks())
    assert not p.record_span("aio.backwards", "io", p.ticks(), 0)
    s = p.snapshot()
    wait = s["aio.queue_wait"]
    assert wait.count == 1 and wait.min_ns >= 2_000_000
    edges = {(e.parent_id, e.child_id) for e in s.call_tree}
    assert (s["aio.outer"].id, wait.id) in edges
    assert "aio.backwards" not in s
