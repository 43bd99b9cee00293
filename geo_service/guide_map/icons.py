"""Facility icons of the printed guide map: a coloured disc or square with a white CJK glyph.

Colours are dark enough for a white glyph to read in print and stay apart in greyscale within a group;
the shape separates groups (discs: daily life and care, squares: health and education, diamonds: transport
and public services). Category ids are the stable ones of the SPEC ("Life circles").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Icon:
    glyph: str  # one CJK character drawn inside the marker
    colour: str  # fill, hex
    marker: str  # matplotlib marker: "o" disc, "s" square, "D" diamond


# In order of importance on a community guide map: legend rows, icon placement and labels follow it.
ICONS: dict[str, Icon] = {
    "community_center": Icon("社", "#7b1fa2", "o"),
    "elderly_care": Icon("老", "#ad1457", "o"),
    "canteen": Icon("食", "#e65100", "o"),
    "clinic": Icon("医", "#c62828", "s"),
    "hospital": Icon("院", "#8e0000", "s"),
    "pharmacy": Icon("药", "#d84315", "s"),
    "kindergarten": Icon("幼", "#1565c0", "s"),
    "childcare": Icon("托", "#4527a0", "s"),
    "school": Icon("学", "#0d47a1", "s"),
    "market": Icon("菜", "#33691e", "o"),
    "grocery": Icon("超", "#2e7d32", "o"),
    "toilet": Icon("厕", "#5d4037", "D"),
    "drinking_water": Icon("水", "#0277bd", "D"),
    "park": Icon("园", "#388e3c", "o"),
    "sports": Icon("体", "#00796b", "o"),
    "bank": Icon("银", "#9e7700", "D"),
    "post": Icon("邮", "#00695c", "D"),
    "police": Icon("警", "#1a237e", "D"),
    "bus_stop": Icon("车", "#455a64", "D"),
    "restaurant": Icon("餐", "#bf5f00", "o"),
}
FALLBACK = Icon("•", "#424242", "o")


def icon_for(category: str, label: str | None = None) -> Icon:
    """The icon of ``category``; an unknown category gets a grey disc with the first character of its label."""
    icon = ICONS.get(category)
    if icon is not None:
        return icon
    return Icon(label[0], FALLBACK.colour, FALLBACK.marker) if label else FALLBACK


def importance(category: str) -> int:
    """Rank of ``category`` (0 = most important); unknown categories come last, after every known one."""
    order = list(ICONS)
    return order.index(category) if category in order else len(order)
