"""The printable guide map (便民生活服务圈导视图) as PNG or PDF bytes: pure, from already-loaded data.

Page: A4 portrait. Everything on the page is laid out in millimetres (a page axes spanning the sheet);
the map frame is an axes in the metric CRS of the area (metres), so the scale bar is true. Matplotlib's
object API only (``Figure`` + the Agg / PDF canvases): no pyplot state, safe in a server.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch, PathPatch, Polygon, Rectangle
from matplotlib.patheffects import withStroke
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from shapely.geometry.base import BaseGeometry

from geo_service.guide_map import draw
from geo_service.guide_map.fonts import font
from geo_service.guide_map.icons import icon_for, importance
from geo_service.guide_map.layout import (  # re-exported: render's callers build and size what it draws
    MAP_ASPECT as MAP_ASPECT,
)
from geo_service.guide_map.layout import (
    MAP_MM,
    MARGIN_MM,
    PAGE_H_MM,
    PAGE_W_MM,
    PNG_COMPRESS_LEVEL,
    PNG_DPI,
    PNG_PX,
    TABLE_BOTTOM_MM,
    TABLE_TOP_MM,
    Box,
    Facility,
    GuideMap,
)
from geo_service.guide_map.layout import Basemap as Basemap
from geo_service.guide_map.layout import view_extent as view_extent
from geo_service.guide_map.text import distance, number, say

ICON_MM = 4.0  # icon diameter on paper
BADGE_MM = 3.0
DOT_MM = 1.3
STREET_PT = 6.2
GLYPH_PT = 7.0
GLYPH_MARKER_PT = 6.6  # the glyph's larger side on the map, points
MIN_HOLE_M2 = 50_000.0  # smaller holes in the walking contour are filled on the printed map (5 ha)
CROWDED = 30  # a category with more facilities on the map gets icons only where there is room to spare
MARKER_SCALE = {"o": 1.0, "s": 0.86, "D": 0.8}  # a square or diamond of one "size" looks bigger than a disc

INK = "#212121"
MUTED = "#5f6368"
LAND = "#f3f0e8"
BOUNDARY = "#6a1b9a"
CIRCLE_EDGE = "#e65100"
CIRCLE_FILL = "#ffb74d"
ORIGIN = "#d50000"
ACCENT = "#c62828"

ROAD_STYLES: dict[str, tuple[float, str, float, str]] = {
    # group: fill width pt, fill colour, casing width pt, casing colour (at 1:10,000)
    "path": (0.45, "#a1968b", 0.0, ""),
    "service": (1.3, "#ffffff", 1.9, "#c8c0b5"),
    "minor": (2.3, "#ffffff", 3.1, "#b9b0a4"),
    "medium": (3.1, "#fde9a8", 4.1, "#c7ad6a"),
    "major": (3.7, "#f7c65c", 4.8, "#c08f2a"),
}
ROAD_GROUPS = {
    **dict.fromkeys(("motorway", "trunk", "primary", "motorway_link", "trunk_link", "primary_link"), "major"),
    **dict.fromkeys(("secondary", "tertiary", "secondary_link", "tertiary_link"), "medium"),
    **dict.fromkeys(("residential", "unclassified", "living_street", "road", "pedestrian"), "minor"),
    "service": "service",
    **dict.fromkeys(
        ("footway", "path", "steps", "cycleway", "track", "bridleway", "trail", "corridor"), "path"
    ),
}
SKIPPED_ROADS = {"elevator", "platform", "proposed", "construction", "raceway"}
LABELLED_GROUPS = ("major", "medium", "minor")
MAX_STREET_LABELS = 28


def render(data: GuideMap, fmt: Literal["png", "pdf"]) -> bytes:
    """The guide map as PNG (2480 × 3508 px, 300 dpi) or PDF (one A4 page) bytes."""
    if fmt == "png":
        size_in = (PNG_PX[0] / PNG_DPI, PNG_PX[1] / PNG_DPI)
    else:
        size_in = (PAGE_W_MM / 25.4, PAGE_H_MM / 25.4)
    fig = Figure(figsize=size_in, dpi=PNG_DPI, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    page = _Page(fig, canvas.get_renderer(), data)
    page.draw()
    out = io.BytesIO()
    title = say(data.lang, "title", name=data.area_name)
    if fmt == "png":
        # RGB, not matplotlib's RGBA: the page is opaque, and the file is smaller and quicker to encode
        canvas.draw()
        pixels = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
        info = PngInfo()
        info.add_text("Title", title)
        info.add_text("Software", "geo-service")
        pixels.save(
            out, format="png", dpi=(PNG_DPI, PNG_DPI), pnginfo=info, compress_level=PNG_COMPRESS_LEVEL
        )
    else:
        fig.savefig(out, format="pdf", metadata={"Title": title, "Creator": "geo-service"})
    return out.getvalue()


def printable_circle(circle: BaseGeometry, min_hole_m2: float = MIN_HOLE_M2) -> BaseGeometry:
    """The walking contour for print: holes smaller than ``min_hole_m2`` (block interiors away from any
    path) filled, bigger ones (railway yards, water, fenced grounds) kept."""
    parts = []
    for polygon in shapely.get_parts(circle):
        holes = [h for h in polygon.interiors if shapely.Polygon(h).area >= min_hole_m2]
        parts.append(shapely.Polygon(polygon.exterior, holes))
    return shapely.union_all(parts) if len(parts) > 1 else parts[0]


def scale_label(metres: float) -> str:
    """A scale-bar figure, exact (no rounding): 0, 125 m, 2.5 km."""
    if metres == 0:
        return "0"
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


def nearest_per_category(facilities: Sequence[Facility]) -> dict[str, Facility]:
    """The facility each category's row names: shortest walk, else shortest straight line."""
    best: dict[str, Facility] = {}
    for f in facilities:
        current = best.get(f.category)
        if current is None or _nearness(f) < _nearness(current):
            best[f.category] = f
    return best


def _nearness(f: Facility) -> tuple[int, float]:
    return (0, f.walk_seconds) if f.walk_seconds is not None else (1, f.distance_m)


def categories_present(facilities: Sequence[Facility]) -> list[str]:
    """Categories on the map, most important first (the legend's rows)."""
    return sorted({f.category for f in facilities}, key=lambda c: (importance(c), c))


_TEXT_SIZES: dict[tuple[str, float, bool], tuple[float, float]] = {}


class _Page:
    """One drawing of the page. Holds the figure, the text measurer and what is already placed."""

    def __init__(self, fig: Figure, renderer: RendererAgg, data: GuideMap) -> None:
        self.fig, self.renderer, self.data, self.lang = fig, renderer, data, data.lang
        self.page = fig.add_axes((0, 0, 1, 1), zorder=10)
        self.page.set_xlim(0, PAGE_W_MM)
        self.page.set_ylim(0, PAGE_H_MM)
        self.page.set_axis_off()
        self.page.patch.set_alpha(0)
        x, y, w, h = MAP_MM
        self.map = fig.add_axes((x / PAGE_W_MM, y / PAGE_H_MM, w / PAGE_W_MM, h / PAGE_H_MM), zorder=1)
        vx0, vy0, vx1, vy1 = data.view
        self.map.set_xlim(vx0, vx1)
        self.map.set_ylim(vy0, vy1)
        self.map.set_xticks([])
        self.map.set_yticks([])
        self.map.set_facecolor(LAND)
        for spine in self.map.spines.values():
            spine.set_linewidth(0.9)
            spine.set_color(INK)
        self.m_per_mm = (vx1 - vx0) / w
        # line widths follow the scale a little, so a district map is not all roads
        self.width_k = float(np.clip((10.0 / self.m_per_mm) ** 0.6, 0.35, 1.4))
        self.taken = draw.Occupancy()
        self.numbers: dict[str, int] = {}  # category → its number in the table and on the map
        self.numbered: set[int] = set()  # ids of the facilities carrying a number
        self.leftover: list[Facility] = []  # facilities the main tier did not draw
        self.crowded: set[str] = set()  # categories with so many facilities that only some get icons
        self.dots = 0  # facilities drawn as dots (the legend explains dots only when there are some)

    # --- measuring ---------------------------------------------------------------------------------------

    def text_mm(self, s: str, size_pt: float, bold: bool = False) -> tuple[float, float]:
        """Width and height of ``s`` on paper, millimetres (measured once per process: layout is slow)."""
        key = (s, size_pt, bold)
        size = _TEXT_SIZES.get(key)
        if size is None:
            w, h, _d = self.renderer.get_text_width_height_descent(s, font(size_pt, bold), ismath=False)
            px_per_mm = PNG_DPI / 25.4
            size = _TEXT_SIZES[key] = (w / px_per_mm, h / px_per_mm)
            if len(_TEXT_SIZES) > 20_000:
                _TEXT_SIZES.clear()
        return size

    def fit(self, s: str, size_pt: float, max_mm: float, bold: bool = False) -> str:
        """``s``, cut with an ellipsis to fit ``max_mm``."""
        if self.text_mm(s, size_pt, bold)[0] <= max_mm:
            return s
        lo, hi = 0, len(s)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.text_mm(s[:mid].rstrip() + "…", size_pt, bold)[0] <= max_mm:
                lo = mid
            else:
                hi = mid - 1
        return s[:lo].rstrip() + "…"

    def to_map(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        """Paper millimetres → map metres."""
        vx0, vy0, _, _ = self.data.view
        return vx0 + (x_mm - MAP_MM[0]) * self.m_per_mm, vy0 + (y_mm - MAP_MM[1]) * self.m_per_mm

    def reserve_mm(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Keep icons and labels off a box of the map frame given in paper millimetres."""
        a, b = self.to_map(x0, y0)
        c, d = self.to_map(x1, y1)
        self.taken.take((a, b, c, d))

    def page_text(
        self,
        x: float,
        y: float,
        s: str,
        size: float,
        bold: bool = False,
        colour: str = INK,
        ha: str = "left",
        va: str = "baseline",
    ) -> None:
        self.page.text(x, y, s, fontproperties=font(size, bold), color=colour, ha=ha, va=va)

    # --- the page ----------------------------------------------------------------------------------------

    def draw(self) -> None:
        self.draw_header()
        self.draw_basemap()
        self.draw_circle_and_boundary()
        self.reserve_furniture()
        self.draw_origin()
        self.draw_facilities("main")
        self.draw_street_labels()
        self.draw_facilities("rest")
        self.draw_furniture()
        self.draw_table()
        self.draw_footer()

    def draw_header(self) -> None:
        d, top = self.data, PAGE_H_MM - MARGIN_MM
        title = say(self.lang, "title", name=d.area_name)
        size = 21.0
        while size > 13 and self.text_mm(title, size, True)[0] > PAGE_W_MM - 2 * MARGIN_MM:
            size -= 0.5
        title = self.fit(title, size, PAGE_W_MM - 2 * MARGIN_MM, True)
        self.page_text(MARGIN_MM, top - 7.5, title, size, bold=True)
        subtitle = say(self.lang, "subtitle", minutes=number(d.minutes))
        if d.parents:
            subtitle += "  ·  " + say(self.lang, "parents", names=" / ".join(d.parents))
        self.page_text(MARGIN_MM, top - 14.0, self.fit(subtitle, 9.5, 150), 9.5, colour=MUTED)
        if d.demo:
            self.page_text(
                PAGE_W_MM - MARGIN_MM, top - 14.0, "DEMO DATA 演示数据", 9.5, True, ACCENT, "right"
            )
        self.page.add_artist(
            Rectangle(
                (MARGIN_MM, top - 17.2),
                PAGE_W_MM - 2 * MARGIN_MM,
                0.8,
                facecolor=CIRCLE_EDGE,
                edgecolor="none",
            )
        )

    def draw_basemap(self) -> None:
        b, k = self.data.basemap, self.width_k
        self._fill(b.green, "#d4e7c5", "none", 0, 2)
        self._fill(b.water, "#a7d1e4", "none", 0, 3)
        # rivers and streams are lines (polygon water is filled above)
        self._stroke([g for g in b.water if shapely.get_type_id(g) in (1, 5)], "#a7d1e4", 1.6 * k, 3)
        self._fill(b.buildings, "#ddd4c6", "#c3b6a4", 0.25, 4)
        rail = [g for cls, g in b.rail if cls not in ("tram", "subway")]
        self._stroke(rail, "#8a8a8a", 1.5 * k, 4.5)
        self._stroke(rail, "#ffffff", 0.7 * k, 4.6, dashes=(3, 3), cap="butt")
        groups: dict[str, list[BaseGeometry]] = {g: [] for g in ROAD_STYLES}
        for cls, _name, geom in b.roads:
            if cls not in SKIPPED_ROADS:
                groups[ROAD_GROUPS.get(cls or "", "minor")].append(geom)
        # all casings under all fills, so crossing streets join instead of cutting each other
        for z, (group, (fill_w, fill, case_w, case)) in enumerate(ROAD_STYLES.items()):
            if case_w:
                self._stroke(groups[group], case, case_w * k, 5 + z * 0.1)
            self._stroke(groups[group], fill, fill_w * k, 5.5 + z * 0.1)
        self._stroke([g for cls, g in b.rail if cls == "tram"], "#9e9e9e", 0.5 * k, 6.5)

    def _stroke(
        self,
        geoms: Sequence[BaseGeometry],
        colour: str,
        width_pt: float,
        z: float,
        dashes: tuple[float, float] | None = None,
        cap: str = "round",
        alpha: float = 1.0,
    ) -> None:
        """Every line (and polygon outline) of ``geoms`` as one stroked path: one PDF object, not thousands."""
        path = draw.line_path(geoms) if len(geoms) else None
        if path is not None:
            self.map.add_artist(
                PathPatch(
                    path,
                    fill=False,
                    edgecolor=colour,
                    linewidth=width_pt,
                    zorder=z,
                    capstyle=cap,
                    joinstyle="round",
                    alpha=alpha,
                    linestyle=(0, dashes) if dashes else "solid",
                )
            )

    def _fill(
        self, geoms: Sequence[BaseGeometry], face: str, edge: str, lw: float, z: float, alpha: float = 1.0
    ) -> None:
        path = draw.polygon_path(geoms) if len(geoms) else None
        if path is not None:
            self.map.add_artist(
                PathPatch(path, facecolor=face, edgecolor=edge, linewidth=lw, zorder=z, alpha=alpha)
            )

    def draw_circle_and_boundary(self) -> None:
        d = self.data
        if d.circle is not None and not d.circle.is_empty:
            circle = printable_circle(d.circle)
            self._fill([shapely.box(*d.view).difference(circle)], "#ffffff", "none", 0, 7, alpha=0.38)
            self._fill([circle], CIRCLE_FILL, "none", 0, 7.1, alpha=0.2)
            shells = shapely.get_exterior_ring(shapely.get_parts(circle))
            holes = [r for p in shapely.get_parts(circle) for r in p.interiors]
            self._stroke(list(shells), "#ffffff", 4.2, 7.2)
            self._stroke(list(shells), CIRCLE_EDGE, 2.2, 7.3)
            self._stroke(holes, CIRCLE_EDGE, 1.0, 7.3)
        self._stroke([d.boundary], "#ffffff", 3.6, 7.4, alpha=0.9)
        self._stroke([d.boundary], BOUNDARY, 1.9, 7.5, dashes=(5, 2.2), cap="butt")

    # --- map furniture: north arrow (top right), scale bar (bottom left), notice (top) ---------------------

    def furniture_boxes(self) -> dict[str, Box]:
        x, y, w, h = MAP_MM
        _ground_m, bar_mm, ratio = self.scale_bar()
        ratio_w = self.text_mm(ratio, 6.5)[0]
        boxes = {
            "north": (x + w - 15.0, y + h - 21.0, x + w - 3.0, y + h - 3.0),
            "scale": (x + 3.0, y + 3.0, x + 3.0 + 4.0 + bar_mm + 5.0 + ratio_w + 3.0, y + 12.0),
        }
        if self.data.no_network:
            boxes["notice"] = (x + w / 2 - 55.0, y + h - 12.0, x + w / 2 + 55.0, y + h - 3.0)
        return boxes

    def scale_bar(self) -> tuple[float, float, str]:
        """A round ground length about 40 mm long on paper, its paper length (the CRS's point scale
        included) and the representative fraction."""
        target_m = 40.0 * self.m_per_mm / self.data.scale_factor
        step = 10 ** math.floor(math.log10(target_m))
        ground_m = max(s * step for s in (1, 2, 2.5, 5, 10) if s * step <= target_m * 1.15)
        bar_mm = ground_m * self.data.scale_factor / self.m_per_mm
        ratio = round(self.m_per_mm * 1000 / self.data.scale_factor, -2)
        return ground_m, bar_mm, f"1:{ratio:,.0f}"

    def reserve_furniture(self) -> None:
        for box in self.furniture_boxes().values():
            self.reserve_mm(*box)

    def draw_furniture(self) -> None:
        boxes = self.furniture_boxes()
        self.draw_north_arrow(boxes["north"])
        self.draw_scale_bar(boxes["scale"])
        if "notice" in boxes:
            x0, y0, x1, y1 = boxes["notice"]
            self._panel(x0, y0, x1, y1, edge=ACCENT)
            self.page_text(
                (x0 + x1) / 2,
                (y0 + y1) / 2,
                say(self.lang, "note.no_network.short"),
                9,
                True,
                ACCENT,
                "center",
                "center",
            )

    def _panel(self, x0: float, y0: float, x1: float, y1: float, edge: str = "#9e9e9e") -> None:
        self.page.add_artist(
            FancyBboxPatch(
                (x0, y0),
                x1 - x0,
                y1 - y0,
                boxstyle="round,pad=0,rounding_size=1.2",
                facecolor="white",
                edgecolor=edge,
                linewidth=0.5,
                alpha=0.92,
            )
        )

    def draw_north_arrow(self, box: Box) -> None:
        x0, y0, x1, y1 = box
        self._panel(x0, y0, x1, y1)
        cx, cy = (x0 + x1) / 2, y0 + 7.2
        theta = math.radians(self.data.north_deg)

        def rot(px: float, py: float) -> tuple[float, float]:
            return (
                cx + px * math.cos(theta) + py * math.sin(theta),
                cy - px * math.sin(theta) + py * math.cos(theta),
            )

        tip, left, right = rot(0, 6.0), rot(-3.0, -4.5), rot(3.0, -4.5)
        hub = rot(0, -2.2)
        self.page.add_artist(Polygon([tip, left, hub], closed=True, facecolor=INK, edgecolor=INK, lw=0.5))
        self.page.add_artist(
            Polygon([tip, right, hub], closed=True, facecolor="white", edgecolor=INK, lw=0.5)
        )
        label = rot(0, 7.9)
        self.page_text(label[0], label[1], say(self.lang, "north"), 8.5, True, INK, "center", "center")

    def draw_scale_bar(self, box: Box) -> None:
        x0, y0, x1, y1 = box
        self._panel(x0, y0, x1, y1)
        ground_m, bar_mm, ratio = self.scale_bar()
        bx, by, bh = x0 + 4.0, y0 + 2.6, 1.4
        for i in range(4):
            colour = INK if i % 2 == 0 else "white"
            self.page.add_artist(
                Rectangle(
                    (bx + i * bar_mm / 4, by), bar_mm / 4, bh, facecolor=colour, edgecolor=INK, linewidth=0.5
                )
            )
        for value, pos in ((0, 0.0), (ground_m / 2, 0.5), (ground_m, 1.0)):
            label = scale_label(value)
            self.page_text(bx + pos * bar_mm, by + bh + 1.0, label, 6.5, False, INK, "center", "bottom")
        self.page_text(bx + bar_mm + 5.0, by + bh / 2, ratio, 6.5, False, MUTED, "left", "center")

    # --- origin, facilities, labels --------------------------------------------------------------------

    def draw_origin(self) -> None:
        d = self.data
        ox, oy = d.origin
        self.map.scatter(
            [ox], [oy], s=260, marker="*", c=ORIGIN, edgecolors="white", linewidths=1.0, zorder=12
        )
        half = 2.8 * self.m_per_mm
        self.taken.take(draw.square(ox, oy, half))
        label = say(self.lang, f"origin.{d.origin_kind}")
        if d.origin_kind == "community_center" and d.origin_name:
            label = d.origin_name
        label = self.fit(label, 7.5, 45, True)
        w_mm, h_mm = self.text_mm(label, 7.5, True)
        w, h = w_mm * self.m_per_mm, h_mm * self.m_per_mm
        gap = 3.2 * self.m_per_mm
        for dx, dy, ha, va in (
            (gap, 0, "left", "center"),
            (-gap, 0, "right", "center"),
            (0, gap, "center", "bottom"),
            (0, -gap, "center", "top"),
        ):
            bx0 = ox + dx - (w if ha == "right" else w / 2 if ha == "center" else 0)
            by0 = oy + dy - (h if va == "top" else h / 2 if va == "center" else 0)
            box = (bx0, by0, bx0 + w, by0 + h)
            if self.taken.is_free(box) and self._inside_view(box):
                self.taken.take(box)
                self.map.text(
                    ox + dx,
                    oy + dy,
                    label,
                    fontproperties=font(7.5, True),
                    color=ORIGIN,
                    ha=ha,
                    va=va,
                    zorder=13,
                    path_effects=[withStroke(linewidth=2.2, foreground="white")],
                )
                return

    def _inside_view(self, box: Box, inset_mm: float = 1.0) -> bool:
        vx0, vy0, vx1, vy1 = self.data.view
        m = inset_mm * self.m_per_mm
        return box[0] >= vx0 + m and box[1] >= vy0 + m and box[2] <= vx1 - m and box[3] <= vy1 - m

    def draw_facilities(self, tier: Literal["main", "rest"]) -> None:
        """Icons where they fit without overlapping, small dots for the rest so no facility disappears.

        Tier "main": each category's numbered (nearest) facility, then the others inside the circle or the
        area by importance and nearness to the start. Tier "rest" (after the street names): facilities
        outside both, and the overflow of crowded categories, spaced wider so the map stays readable.
        """
        d = self.data
        if tier == "main":
            nearest = nearest_per_category(d.facilities)
            self.numbers = {c: i + 1 for i, c in enumerate(categories_present(d.facilities))}
            self.numbered = {id(f) for f in nearest.values()}
            self.leftover = []
            per_category: dict[str, int] = {}
            for f in d.facilities:
                per_category[f.category] = per_category.get(f.category, 0) + 1
            self.crowded = {c for c, n in per_category.items() if n > CROWDED}
        ranked = sorted(
            d.facilities if tier == "main" else self.leftover,
            key=lambda f: (
                id(f) not in self.numbered,
                not (f.in_circle or f.in_area),
                importance(f.category),
                f.distance_m,
            ),
        )
        half = ICON_MM / 2 * self.m_per_mm
        icons: list[Facility] = []
        dots: list[Facility] = []
        for f in ranked:
            numbered = id(f) in self.numbered
            inside = f.in_circle or f.in_area
            sparse = tier == "rest" and (f.category in self.crowded or not inside)
            if tier == "main" and not numbered and (not inside or f.category in self.crowded):
                self.leftover.append(f)
                continue
            box = draw.square(f.xy[0], f.xy[1], half * (1.9 if sparse else 1.08))
            if self._inside_view(box, 0.5) and self.taken.is_free(box):
                self.taken.take(draw.square(f.xy[0], f.xy[1], half * 1.08))
                icons.append(f)
                if numbered:
                    self.place_badge(f, half)
            elif numbered:  # no room for its icon (say, under the start's star): a dot, and still its number
                dots.append(f)
                self.place_badge(f, DOT_MM / 2 * self.m_per_mm)
            elif tier == "main":
                self.leftover.append(f)
            else:
                dots.append(f)
        self.dots += len(dots)
        if dots:
            self.map.scatter(
                [f.xy[0] for f in dots],
                [f.xy[1] for f in dots],
                s=(DOT_MM * 72 / 25.4) ** 2,
                c=[icon_for(f.category).colour for f in dots],
                edgecolors="white",
                linewidths=0.4,
                zorder=10,
            )
        self.draw_icons(icons)

    def draw_icons(self, icons: Sequence[Facility]) -> None:
        icon_pt = ICON_MM * 72 / 25.4
        for marker in ("o", "s", "D"):
            group = [f for f in icons if icon_for(f.category).marker == marker]
            if group:
                self.map.scatter(
                    [f.xy[0] for f in group],
                    [f.xy[1] for f in group],
                    s=(icon_pt * MARKER_SCALE[marker]) ** 2,
                    marker=marker,
                    c=[icon_for(f.category).colour for f in group],
                    edgecolors="white",
                    linewidths=0.8,
                    zorder=11,
                )
        # glyphs as marker paths: one scatter per glyph instead of one text artist per icon
        by_glyph: dict[str, list[Facility]] = {}
        for f in icons:
            by_glyph.setdefault(icon_for(f.category).glyph, []).append(f)
        for glyph, group in by_glyph.items():
            self.map.scatter(
                [f.xy[0] for f in group],
                [f.xy[1] for f in group],
                s=GLYPH_MARKER_PT**2,
                marker=draw.glyph_marker(glyph, font(GLYPH_PT, True)),
                c="white",
                linewidths=0,
                zorder=11.5,
            )

    def place_badge(self, f: Facility, icon_half: float) -> None:
        r = BADGE_MM / 2 * self.m_per_mm
        reach = icon_half * 1.1 + r * 1.05
        spots = []
        for ring in (1.0, 1.7, 2.4):  # next to the icon, else a little farther out
            for angle in (45, 135, -45, -135, 0, 180, 90, -90):
                a = math.radians(angle)
                bx, by = f.xy[0] + ring * reach * math.cos(a), f.xy[1] + ring * reach * math.sin(a)
                if self._inside_view(draw.square(bx, by, r), 0.3):
                    spots.append((bx, by))
        if not spots:
            return
        # the first free spot; on a crowded map the number still goes on, over a neighbour
        bx, by = next((p for p in spots if self.taken.is_free(draw.square(*p, r))), spots[0])
        self.taken.take(draw.square(bx, by, r))
        self.badge(self.map, bx, by, self.numbers[f.category], r, zorder=12.5)

    def badge(self, ax: Axes, x: float, y: float, n: int, r: float, zorder: float = 12.5) -> None:
        """A numbered white disc of radius ``r`` (in ``ax``'s units) at (x, y)."""
        ax.add_artist(Circle((x, y), r, facecolor=INK, edgecolor="white", linewidth=0.7, zorder=zorder))
        ax.text(
            x,
            y,
            str(n),
            fontproperties=font(5.8 if n < 10 else 5.0, True),
            color="white",
            ha="center",
            va="center",
            zorder=zorder + 0.1,
        )

    def draw_street_labels(self) -> None:
        """Names of the longest named streets, along the street, kept upright, never over anything placed."""
        by_name: dict[str, list[BaseGeometry]] = {}
        rank: dict[str, int] = {}
        for cls, name, geom in self.data.basemap.roads:
            group = ROAD_GROUPS.get(cls or "", "minor")
            if not name or group not in LABELLED_GROUPS:
                continue
            by_name.setdefault(name, []).append(geom)
            rank[name] = min(rank.get(name, 9), LABELLED_GROUPS.index(group))
        if not by_name:
            return
        inner = shapely.box(*self.data.view).buffer(-4 * self.m_per_mm)
        candidates = []
        for name, geoms in by_name.items():
            merged = shapely.line_merge(shapely.intersection(shapely.union_all(geoms), inner))
            parts = [p for p in shapely.get_parts(merged) if p.geom_type == "LineString"]
            if parts:
                longest = max(parts, key=lambda p: p.length)
                candidates.append((rank[name], -longest.length, name, longest))
        candidates.sort(key=lambda c: (c[0], c[1]))
        placed = 0
        street_font = font(STREET_PT)
        for _rank, _neg, name, line in candidates:
            if placed >= MAX_STREET_LABELS:
                break
            w_mm, h_mm = self.text_mm(name, STREET_PT)
            length, height = w_mm * self.m_per_mm, h_mm * 1.3 * self.m_per_mm
            if line.length < length * 1.3:
                continue
            for t in (0.5, 0.3, 0.7, 0.15, 0.85):
                spot = self._street_spot(line, t, length, height)
                if spot is None:
                    continue
                x, y, angle, boxes = spot
                self.taken.take_all(boxes)
                self.map.text(
                    x,
                    y,
                    name,
                    fontproperties=street_font,
                    color="#4e4a45",
                    rotation=math.degrees(angle),
                    rotation_mode="anchor",
                    ha="center",
                    va="center",
                    zorder=10.5,
                    fontstyle="italic",
                    path_effects=[withStroke(linewidth=1.8, foreground="white")],
                )
                placed += 1
                break

    def _street_spot(
        self, line: shapely.LineString, t: float, length: float, height: float
    ) -> tuple[float, float, float, list[Box]] | None:
        at = t * line.length
        if at - length / 2 < 0 or at + length / 2 > line.length:
            return None
        a, b = line.interpolate(at - length / 2), line.interpolate(at + length / 2)
        mid = line.interpolate(at)
        chord = math.hypot(b.x - a.x, b.y - a.y)
        if chord < length * 0.92:  # too curved here for straight text
            return None
        angle = math.atan2(b.y - a.y, b.x - a.x)
        if angle > math.pi / 2:
            angle -= math.pi
        elif angle < -math.pi / 2:
            angle += math.pi
        boxes = draw.along_boxes(mid.x, mid.y, angle, length, height)
        if not self.taken.all_free(boxes) or not all(self._inside_view(bx, 1.5) for bx in boxes):
            return None
        return mid.x, mid.y, angle, boxes

    # --- legend table and footnotes ----------------------------------------------------------------------

    def draw_table(self) -> None:
        d, lang = self.data, self.lang
        top = TABLE_TOP_MM
        self.page_text(MARGIN_MM, top - 3.2, say(lang, "legend"), 10, True)
        x = MARGIN_MM + self.text_mm(say(lang, "legend"), 10, True)[0] + 6.0
        y = top - 4.3
        x = self.symbol_entry(x, y, "boundary", say(lang, f"boundary.{d.area_level}"))
        if d.circle is not None:
            x = self.symbol_entry(x, y, "circle", say(lang, "circle", minutes=number(d.minutes)))
        x = self.symbol_entry(x, y, "origin", say(lang, f"origin.{d.origin_kind}"))
        if self.dots:
            self.symbol_entry(x, y, "dot", say(lang, "dot"))
        order = categories_present(d.facilities)
        self.page.add_artist(
            Rectangle(
                (MARGIN_MM, top - 8.2), PAGE_W_MM - 2 * MARGIN_MM, 0.25, facecolor="#bdbdbd", edgecolor="none"
            )
        )
        if not order:
            self.page_text(MARGIN_MM, top - 13.0, say(lang, "no_facilities"), 8, colour=MUTED)
            return
        self.page_text(MARGIN_MM, top - 12.0, say(lang, "categories"), 6.8, colour=MUTED)
        nearest = nearest_per_category(d.facilities)
        rows = math.ceil(len(order) / 2)
        row_h = min(5.4, (top - 14.5 - TABLE_BOTTOM_MM) / rows)
        col_w = (PAGE_W_MM - 2 * MARGIN_MM) / 2
        counts = self._counts()
        for i, category in enumerate(order):
            col, row = divmod(i, rows)
            cx = MARGIN_MM + col * col_w
            cy = top - 16.0 - row * row_h
            self.table_row(cx, cy, col_w - 3.0, category, counts[category], nearest[category])

    def _counts(self) -> dict[str, int]:
        d = self.data
        counts: dict[str, int] = {}
        for f in d.facilities:
            inside = f.in_circle if d.circle is not None else f.in_area
            counts[f.category] = counts.get(f.category, 0) + int(inside)
        return counts

    def table_row(
        self, x: float, y: float, width: float, category: str, count: int, nearest: Facility
    ) -> None:
        lang, d = self.lang, self.data
        icon = icon_for(category, d.category_labels.get(category))
        self.page_icon(x + 2.2, y, icon.glyph, icon.colour, icon.marker, 4.0)
        label = self.fit(d.category_labels.get(category, category), 7.6, 25.0, True)
        self.page_text(x + 5.6, y, label, 7.6, True, INK, "left", "center")
        key = "count.circle" if d.circle is not None else "count.area"
        self.page_text(
            x + 44.0, y, say(lang, key, n=count), 7.0, False, INK if count else ACCENT, "right", "center"
        )
        self.badge(self.page, x + 47.6, y, self.numbers[category], BADGE_MM / 2, zorder=3)
        name = nearest.name or say(lang, "unnamed")
        if nearest.walk_seconds is not None:
            minutes = math.ceil(nearest.walk_seconds / 60)
            how = (
                say(lang, "walk", minutes=minutes)
                if minutes > 1 or nearest.walk_seconds > 60
                else say(lang, "walk.under")
            )
        else:
            how = say(lang, "straight", distance=distance(nearest.distance_m))
        how_w = self.text_mm(how, 6.8)[0]
        self.page_text(x + width, y, how, 6.8, False, MUTED, "right", "center")
        self.page_text(
            x + 50.2, y, self.fit(name, 7.0, width - 50.2 - how_w - 1.5), 7.0, False, INK, "left", "center"
        )

    def page_icon(self, x: float, y: float, glyph: str, colour: str, marker: str, size_mm: float) -> None:
        pt = size_mm * 72 / 25.4 * MARKER_SCALE.get(marker, 1.0)
        self.page.scatter(
            [x], [y], s=pt**2, marker=marker, c=colour, edgecolors="white", linewidths=0.6, zorder=3
        )
        self.page.text(
            x,
            y,
            glyph,
            fontproperties=font(GLYPH_PT, True),
            color="white",
            ha="center",
            va="center",
            zorder=4,
        )

    def symbol_entry(self, x: float, y: float, kind: str, label: str) -> float:
        """One line-symbol legend entry at (x, y); returns where the next one starts."""
        p = self.page
        if kind == "boundary":
            p.plot([x, x + 7], [y, y], color="white", lw=3.6, solid_capstyle="butt")
            p.plot([x, x + 7], [y, y], color=BOUNDARY, lw=1.9, linestyle=(0, (5, 2.2)), dash_capstyle="butt")
            w = 7.0
        elif kind == "circle":
            p.add_artist(Rectangle((x, y - 1.6), 7, 3.2, facecolor=CIRCLE_FILL, alpha=0.35, edgecolor="none"))
            p.add_artist(Rectangle((x, y - 1.6), 7, 3.2, facecolor="none", edgecolor=CIRCLE_EDGE, lw=1.6))
            w = 7.0
        elif kind == "origin":
            p.scatter([x + 2], [y], s=150, marker="*", c=ORIGIN, edgecolors="white", linewidths=0.8)
            w = 4.0
        else:
            p.scatter(
                [x + 1, x + 2.6, x + 4.2],
                [y, y, y],
                s=(DOT_MM * 72 / 25.4) ** 2,
                c=["#c62828", "#2e7d32", "#455a64"],
                edgecolors="white",
                linewidths=0.4,
            )
            w = 5.2
        self.page_text(x + w + 1.5, y, label, 7.4, False, INK, "left", "center")
        return x + w + 1.5 + self.text_mm(label, 7.4)[0] + 5.0

    def draw_footer(self) -> None:
        d, lang = self.data, self.lang
        notes = [say(lang, f"note.origin.{d.origin_kind}", name=d.origin_name or "")]
        if d.no_network:
            notes.append(say(lang, "note.no_network", minutes=number(d.minutes)))
        else:
            notes.append(say(lang, "note.method", minutes=number(d.minutes), speed=number(d.speed_kmh)))
        notes.append(say(lang, "note.crs", crs=d.crs_name, epsg=d.epsg, date=d.date))
        y = TABLE_BOTTOM_MM - 4.0
        self.page.add_artist(
            Rectangle(
                (MARGIN_MM, y + 2.6), PAGE_W_MM - 2 * MARGIN_MM, 0.25, facecolor="#bdbdbd", edgecolor="none"
            )
        )
        for note in notes:
            self.page_text(MARGIN_MM, y, self.fit(note, 6.8, PAGE_W_MM - 2 * MARGIN_MM), 6.8, colour=MUTED)
            y -= 3.4
        if d.demo:
            self.page_text(MARGIN_MM, y, self.fit(say(lang, "note.demo"), 7.0, 140), 7.0, True, ACCENT)
        self.page_text(PAGE_W_MM - MARGIN_MM, y, say(lang, "note.attribution"), 7.0, True, INK, "right")
