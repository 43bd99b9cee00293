"""The bound on CPU-bound computations per process: excess requests wait on the event loop, not in threads."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio

from geo_service.api.deps import Compute


def _run(func: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """``anyio.run`` on a thread of its own: a browser test before this one in the same worker leaves
    Playwright's event loop running on the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, func, *args).result()


def test_the_limiter_bounds_concurrent_computations() -> None:
    compute = Compute(2)
    release = threading.Event()
    lock = threading.Lock()
    running = peak = 0
    results: list[int] = []

    def work(k: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(timeout=60)
        with lock:
            running -= 1
        return k

    async def main() -> None:
        async def one(k: int) -> None:
            results.append(await compute(lambda: work(k)))

        async with anyio.create_task_group() as tasks:
            for k in range(8):
                tasks.start_soon(one, k)
            assert compute.limiter is not None
            # two computing, six queued on the limiter (none of them holding a thread); the two are in
            # ``work`` before the release (a token is borrowed before its thread runs: on a loaded machine
            # the first could finish before the second started, and the bound would go unseen)
            with anyio.fail_after(60):
                while compute.limiter.statistics().tasks_waiting < 6 or running < 2:
                    await anyio.sleep(0.01)
            assert compute.limiter.borrowed_tokens == 2
            release.set()

    _run(main)
    assert peak == 2
    assert sorted(results) == list(range(8))


def test_zero_leaves_the_thread_pool_bound() -> None:
    compute = Compute(0)
    assert compute.limiter is None
    assert _run(compute, lambda: 42) == 42
