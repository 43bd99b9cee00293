"""The ordering hint of tests/conftest.py names real modules, and its rewriting script keeps the format."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LONGEST_MODULES, REPO
from tests.tools import longest_modules


def test_every_listed_module_exists_once() -> None:
    missing = [m for m in LONGEST_MODULES if not (REPO / m).is_file()]
    assert not missing, f"LONGEST_MODULES names modules that are gone (make test-durations): {missing}"
    assert len(set(LONGEST_MODULES)) == len(LONGEST_MODULES)
    assert all(Path(m).name.startswith("test_") for m in LONGEST_MODULES)


def test_the_script_finds_and_rewrites_the_tuple(tmp_path: Path) -> None:
    text = longest_modules.CONFTEST.read_text()
    match = longest_modules.TUPLE.search(text)
    assert match, "the script would not find LONGEST_MODULES"
    assert match.group(0) == longest_modules.render(list(LONGEST_MODULES))  # the format it writes
    report = tmp_path / "report.xml"
    report.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.a.test_x" name="t1" file="tests/a/test_x.py" time="10.0"/>'
        '<testcase classname="tests.a.test_x" name="t2" file="tests/a/test_x.py" time="12.5"/>'
        '<testcase classname="tests.b.test_y" name="t" file="tests/b/test_y.py" time="30.0"/>'
        '<testcase classname="tests.b.test_z" name="t" file="tests/b/test_z.py" time="1.0"/>'
        "</testsuite></testsuites>"
    )
    seconds = longest_modules.module_seconds(report)
    assert seconds == {"tests/a/test_x.py": 22.5, "tests/b/test_y.py": 30.0, "tests/b/test_z.py": 1.0}
    assert [m for m, s in seconds.most_common() if s >= 15] == ["tests/b/test_y.py", "tests/a/test_x.py"]
