"""Build time: every numba kernel of the package compiled into its on-disk cache (``python -m geo_service.warm``,
run by ``make setup`` and the Dockerfile), so that a fresh or read-only install compiles nothing when it serves:
the walking engine's (:mod:`geo_service.walking.warm`) and the crosswalk's polygon clipping
(:mod:`geo_service.networks.clip`)."""

from __future__ import annotations

import time

from geo_service.networks import clip
from geo_service.walking import warm_up as warm_walking


def main() -> None:
    walking_s = warm_walking()
    start = time.perf_counter()
    clip.warm_up()
    print(
        f"kernels compiled and cached: walking {walking_s:.1f} s, clipping {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
