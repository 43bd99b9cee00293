"""The CJK font of the guide map (Debian ``fonts-noto-cjk``), found once per process.

Matplotlib's font cache may predate the font's installation, so when its manager does not know the family
``fc-match`` is asked for the file and the file is registered; if neither finds it the map cannot be drawn
and :class:`FontMissing` says what to install.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from matplotlib import font_manager
from matplotlib.font_manager import FontProperties

from geo_service.errors import ServiceUnavailable

FAMILY = "Noto Sans CJK SC"  # the Simplified Chinese face of the Noto CJK collection (.ttc index 2)


class FontMissing(ServiceUnavailable):
    """No CJK font: the guide map needs Debian's fonts-noto-cjk (503)."""


def _registered() -> bool:
    try:
        font_manager.fontManager.findfont(FontProperties(family=FAMILY), fallback_to_default=False)
    except ValueError:
        return False
    return True


def _register_with_fontconfig() -> None:
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return
    result = subprocess.run(
        [fc_match, "--format=%{file}", FAMILY], capture_output=True, text=True, timeout=10, check=False
    )
    path = Path(result.stdout.strip())
    if result.returncode == 0 and path.is_file() and "CJK" in path.name:
        font_manager.fontManager.addfont(str(path))


@lru_cache(maxsize=1)
def cjk_family() -> str:
    """The family name to draw Chinese and Latin text with; raises :class:`FontMissing` without one."""
    if not _registered():
        _register_with_fontconfig()
    if not _registered():
        raise FontMissing(
            f"the guide map needs the CJK font '{FAMILY}': install the Debian package fonts-noto-cjk "
            "(apt-get install fonts-noto-cjk, or `make setup`) and restart the service"
        )
    return FAMILY


def font(size_pt: float, bold: bool = False) -> FontProperties:
    """The CJK font at ``size_pt`` points."""
    return FontProperties(family=cjk_family(), size=size_pt, weight="bold" if bold else "normal")
