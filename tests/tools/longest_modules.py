"""Rewrite ``LONGEST_MODULES`` in tests/conftest.py from a junit report of a whole run.

``make test-durations`` runs the suite with ``--junitxml`` and calls this script: each module's time is the sum
of its tests' times (set-up and tear-down included, so a module-scoped server or database counts), and the
modules above ``--min-s`` seconds are written to the tuple, longest first. The tuple is only an ordering hint
for pytest-xdist (see tests/conftest.py); tests/test_longest_modules.py checks that every name in it exists.

Usage: ``python tests/tools/longest_modules.py REPORT.xml [--min-s 15] [--check]``
"""

from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
TUPLE = re.compile(r"^LONGEST_MODULES = \(\n(?:    .*\n)*?\)\n", re.MULTILINE)


def module_seconds(report: Path) -> Counter[str]:
    """Seconds per test module (``tests/…/test_x.py``) in a junit report."""
    seconds: Counter[str] = Counter()
    for case in ET.parse(report).iter("testcase"):
        path = case.get("file") or (case.get("classname") or "").replace(".", "/") + ".py"
        seconds[path] += float(case.get("time") or 0.0)
    return seconds


def render(modules: list[str]) -> str:
    return "LONGEST_MODULES = (\n" + "".join(f'    "{m}",\n' for m in modules) + ")\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("report", type=Path, help="junit XML of a whole run (pytest --junitxml)")
    parser.add_argument("--min-s", type=float, default=15.0, help="modules shorter than this are left out")
    parser.add_argument("--check", action="store_true", help="only say whether the tuple is up to date")
    args = parser.parse_args()
    seconds = module_seconds(args.report)
    longest = [m for m, s in seconds.most_common() if s >= args.min_s]
    text = CONFTEST.read_text()
    if not TUPLE.search(text):
        print(f"no LONGEST_MODULES tuple in {CONFTEST}", file=sys.stderr)
        return 2
    new = TUPLE.sub(render(longest), text, count=1)
    for module in longest:
        print(f"{seconds[module]:8.1f} s  {module}")
    if args.check:
        return 0 if new == text else 1
    CONFTEST.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
