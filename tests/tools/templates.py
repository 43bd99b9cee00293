"""Build the suite's template databases before pytest needs them: ``python -m tests.tools.templates``.

``make test`` runs it in the background while the lint runs (mypy keeps one core busy for ~20 s on a clean
clone, the template chain — migrations, the Helsinki import, the demo grids and city, ~10 s — takes the other),
so that a first run after a change does not start with every worker waiting for one of them to build the chain.
The fixtures in tests/conftest.py find the templates current (the same digest of their sources) and use them; if
this fails, they build them as before."""

from __future__ import annotations

from tests.conftest import build_templates

if __name__ == "__main__":
    build_templates()
