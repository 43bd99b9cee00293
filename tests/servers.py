"""Real ``geo-service serve`` processes in tests: wait until each says ready, then stop them all."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence

import httpx
import pytest

READY_WITHIN_S = 90.0
# Polls are cheap (one client; a refused connection fails at once): each server is used soon after it is ready.
POLL_INTERVAL_S = 0.1


def wait_until_ready(
    bases: Sequence[str],
    processes: Sequence[subprocess.Popen[bytes]],
    exit_text: Callable[[int], str],
    limit_s: float = READY_WITHIN_S,
) -> None:
    """Poll every ``/readyz`` until each answers 200; fail with the tail of ``exit_text(i)`` (its output) when
    process ``i`` exits first, or when ``limit_s`` seconds pass. One client for all the polls: an
    ``httpx.get`` makes a client of its own, whose TLS context (the CA bundle parsed) costs ~40 ms of CPU, and
    a server starting on a loaded machine was polled a few hundred times."""
    deadline = time.monotonic() + limit_s
    waiting = set(range(len(bases)))
    with httpx.Client(timeout=2) as client:
        while waiting:
            for i in sorted(waiting):
                if processes[i].poll() is not None:
                    pytest.fail(f"serve exited: {exit_text(i)[-2000:]}")
                try:
                    if client.get(f"{bases[i]}/readyz").status_code == 200:
                        waiting.discard(i)
                except httpx.TransportError:
                    pass
            if waiting and time.monotonic() > deadline:
                pytest.fail(f"serve did not become ready within {limit_s:g} s")
            time.sleep(POLL_INTERVAL_S)


def stop(processes: Sequence[subprocess.Popen[bytes]], timeout_s: float) -> None:
    """SIGTERM to all first (their shutdowns overlap), then wait for each; kill what outlives ``timeout_s``."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
