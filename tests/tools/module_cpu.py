"""A pytest plugin that charges CPU seconds to test modules: ``pytest -p tests.tools.module_cpu -n 0``.

Each module is charged what the test process and every process under it spent from the module's first test to
the next module's first test (its fixtures' set-up and tear-down included): the interpreter itself, the
subprocesses it started (``geo-service serve``, Chromium, dask workers) and the PostgreSQL servers. Those
servers detach from their starter (``pg_ctl`` daemonises them); the plugin makes the test process a child
subreaper (Linux ``PR_SET_CHILD_SUBREAPER``) so that they stay below it, and reaps the ones that exit. Run it
without xdist (``-n 0``): with two workers sharing one server the server's CPU cannot be told apart. Writes
``test-artifacts/module-cpu.json`` and prints the list at the end.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
from pathlib import Path

import pytest

PR_SET_CHILD_SUBREAPER = 36
TICK = os.sysconf("SC_CLK_TCK")
_charged: dict[str, dict[str, float]] = {}
_state: dict[str, object] = {"module": None, "mark": {}}


def _stat(pid: int) -> tuple[int, str, float] | None:
    """(parent pid, state, CPU s of the process and its reaped children) from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], sum(int(v) for v in fields[11:15]) / TICK


def _reap_detached_postgres(tree: dict[int, tuple[int, str, float]]) -> None:
    """PostgreSQL servers that exited are our zombies now: reap them (their CPU moves to our children)."""
    me = os.getpid()
    for pid, (ppid, state, _) in tree.items():
        if ppid == me and state == "Z":
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres":
                    os.waitpid(pid, os.WNOHANG)


def _total() -> dict[str, float]:
    """CPU s of this process, its reaped children and every live process below it, by kind: the live
    processes by the name of the child of this process they descend from (``postgres``, ``node`` for
    Playwright's driver and its Chromium, ``python`` for servers and workers started as subprocesses)."""
    stats = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (stat := _stat(int(entry.name))):
            stats[int(entry.name)] = stat
    me = os.getpid()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    below: dict[int, tuple[int, str, float]] = {}
    kind_of: dict[int, str] = {}
    for top in children.get(me, []):
        try:
            kind = Path(f"/proc/{top}/comm").read_text().strip()
        except OSError:
            kind = "?"
        todo = [top]
        while todo:
            pid = todo.pop()
            below[pid], kind_of[pid] = stats[pid], kind
            todo.extend(children.get(pid, []))
    _reap_detached_postgres(below)
    times = os.times()
    totals = {"self": times.user + times.system, "reaped": times.children_user + times.children_system}
    for pid, (_, _, cpu) in below.items():
        if Path(f"/proc/{pid}").exists():  # a zombie just reaped is counted in the children's times now
            totals[kind_of[pid]] = totals.get(kind_of[pid], 0.0) + cpu
    return totals


def _charge(next_module: str | None) -> None:
    now = _total()
    module = _state["module"] or "(start-up)"
    mark: dict[str, float] = _state["mark"]  # type: ignore[assignment]
    charged = _charged.setdefault(str(module), {})
    for kind in now.keys() | mark.keys():
        charged[kind] = charged.get(kind, 0.0) + now.get(kind, 0.0) - mark.get(kind, 0.0)
    _state["module"], _state["mark"] = next_module, now


def pytest_configure(config: pytest.Config) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    module = nodeid.split("::", 1)[0]
    if module != _state["module"]:
        _charge(module)


def pytest_sessionfinish(session: pytest.Session) -> None:
    _charge(None)


def pytest_unconfigure(config: pytest.Config) -> None:
    """After the suite's own unconfigure stopped the cluster: what stopping it cost, and the table."""
    _state["module"] = "(tear-down)"
    _charge(None)
    out = Path(config.rootpath) / "test-artifacts" / "module-cpu.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    ranked = sorted(_charged.items(), key=lambda kv: -sum(kv[1].values()))
    table = {
        module: {"total": round(sum(kinds.values()), 2)}
        | {k: round(v, 2) for k, v in sorted(kinds.items()) if abs(v) >= 0.05}
        for module, kinds in ranked
    }
    out.write_text(json.dumps(table, indent=1))
    total = sum(row["total"] for row in table.values())
    lines = [f"CPU s by test module (total {total:.1f} s; by process kind in {out}):"]
    for module, row in list(table.items())[:40]:
        kinds = ", ".join(f"{k} {v:.1f}" for k, v in row.items() if k != "total")
        lines.append(f"{row['total']:8.1f}  {module}  ({kinds})")
    print("\n".join(lines))
