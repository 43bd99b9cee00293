"""Run a command and report the CPU seconds it cost, daemons included.

``/usr/bin/time`` counts the children a command waits for; the PostgreSQL servers the test fixtures start
detach (``pg_ctl`` daemonises them), so their CPU is counted by nobody. This wrapper makes itself a child
subreaper (Linux ``PR_SET_CHILD_SUBREAPER``): detached descendants are re-parented to it instead of to init,
it waits for every one of them, and the rusage of its children then holds the whole tree's CPU. On a machine
shared with others, CPU seconds are a steadier measure of a suite's cost than wall time.

Usage: ``python tests/tools/cpu_total.py [--json FILE] -- make test``
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--orphans-timeout-s", type=float, default=120.0, help="how long to wait for daemons")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    started = time.monotonic()
    process = subprocess.Popen(command)
    returncode = process.wait()
    wall_s = time.monotonic() - started
    # Daemons left behind (a server a test did not stop) would keep us waiting; give them a bound.
    deadline = time.monotonic() + args.orphans_timeout_s
    orphans = 0
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if time.monotonic() > deadline:
                orphans = -1
                break
            time.sleep(0.1)
        else:
            orphans += 1
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = {
        "command": command,
        "returncode": returncode,
        "wall_s": round(wall_s, 1),
        "user_s": round(usage.ru_utime, 1),
        "sys_s": round(usage.ru_stime, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "max_rss_mb": round(usage.ru_maxrss / 1024),
        "detached_reaped": orphans,
    }
    print(
        f"cpu_total: {figures['cpu_s']} CPU s (user {figures['user_s']}, sys {figures['sys_s']}), "
        f"wall {figures['wall_s']} s, rc {returncode}, detached processes reaped {orphans}",
        file=sys.stderr,
    )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=1)
    return returncode


if __name__ == "__main__":
    sys.exit(main())
