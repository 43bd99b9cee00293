"""Other packages use only the walking package's public interface (``geo_service.walking.__all__``).

A static scan of every module outside ``geo_service/walking/``: an import from the walking package must
name something in ``__all__``, never a submodule (``walking.network``, ``walking.paths``), and a module that
binds the package itself may only read public names from it. Internals (graph layout, kernels, the disk
cache) can then change without breaking stations, incidents, siting or the batch jobs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import geo_service
import geo_service.walking

PACKAGE = Path(geo_service.__file__).parent
PUBLIC = frozenset(geo_service.walking.__all__)


def private_uses(path: Path) -> list[str]:
    """Where ``path`` reaches past the walking package's ``__all__``: one line per offence."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    package_names: set[str] = set()  # local names bound to the package itself
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("geo_service.walking."):
                found.append(f"{path}:{node.lineno} imports from the internal module {node.module}")
            elif node.module == "geo_service.walking":
                found += [
                    f"{path}:{node.lineno} imports {alias.name}, not in geo_service.walking.__all__"
                    for alias in node.names
                    if alias.name not in PUBLIC
                ]
            elif node.module == "geo_service":
                package_names |= {a.asname or a.name for a in node.names if a.name == "walking"}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("geo_service.walking."):
                    found.append(f"{path}:{node.lineno} imports the internal module {alias.name}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in package_names
            and node.attr not in PUBLIC
        ):
            found.append(f"{path}:{node.lineno} reads walking.{node.attr}, not in __all__")
    return found


def test_no_module_outside_walking_uses_its_internals() -> None:
    outside = [p for p in PACKAGE.rglob("*.py") if PACKAGE / "walking" not in p.parents]
    assert len(outside) > 50  # the scan really covers the code base
    offences = [line for path in sorted(outside) for line in private_uses(path)]
    assert offences == []


def test_the_scan_catches_each_kind_of_private_use(tmp_path: Path) -> None:
    module = tmp_path / "user.py"
    module.write_text(
        "from geo_service import walking\n"
        "from geo_service.walking import run_search, _private\n"
        "from geo_service.walking.network import current_network\n"
        "import geo_service.walking.paths\n"
        "walking.isochrones\n"
        "walking.paths\n",
        encoding="utf-8",
    )
    offences = private_uses(module)
    assert len(offences) == 4
    assert "_private" in offences[0]
    assert "geo_service.walking.network" in offences[1]
    assert "geo_service.walking.paths" in offences[2]
    assert "walking.paths" in offences[3]
