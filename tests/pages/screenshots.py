"""Copy the browser tests' screenshots into ``docs/screenshots/`` for the README, as 256-colour PNGs (each
well under 300 KB; phone shots are 780×1688, two device pixels per CSS pixel of a 390×844 phone):

    .venv/bin/python -m pytest tests/pages && .venv/bin/python -m tests.pages.screenshots
"""

from __future__ import annotations

import sys

from PIL import Image

from tests.conftest import REPO
from tests.pages.conftest import ARTIFACTS

DOCS = REPO / "docs" / "screenshots"
README_SHOTS = {
    "planner-split": "planner.png",
    "stations-nearest-1200": "stations.png",
    "dispatch-created": "dispatch.png",
    "circles-isochrone": "circles.png",
    "circles-gaps": "circles-gaps.png",
    "phone-planner": "phone-planner.png",
    "phone-stations": "phone-stations.png",
    "phone-dispatch-candidates": "phone-dispatch.png",
    "phone-circles": "phone-circles.png",
    "phone-worker-report": "phone-worker.png",
    "dashboard-desktop": "dashboard.png",
    "phone-dashboard": "phone-dashboard.png",
    "planner-network-mismatches": "planner-networks.png",
}
MAX_BYTES = 300_000


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    for source, target in README_SHOTS.items():
        path = ARTIFACTS / f"{source}.png"
        if not path.exists():
            print(f"missing {path}: run the browser tests first", file=sys.stderr)
            return 1
        with Image.open(path) as image:
            small = image.convert("RGB").quantize(
                colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
            )
            small.save(DOCS / target, optimize=True)
        size = (DOCS / target).stat().st_size
        print(f"{DOCS / target}: {size / 1000:.0f} kB")
        if size > MAX_BYTES:
            print(f"{target} is over {MAX_BYTES / 1000:.0f} kB", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
