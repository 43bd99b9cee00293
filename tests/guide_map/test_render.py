"""The renderer on synthetic data (no database): page size, content, legend text and language."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from geo_service.guide_map import render
from geo_service.guide_map.render import Basemap, Facility, GuideMap
from geo_service.guide_map.text import TEXT
from geo_service.osm.rules import FacilityRules
from tests.guide_map.conftest import pdf_info, pdf_text, png_pixels, squash

X0, Y0 = 385_000.0, 6_672_000.0  # somewhere in UTM zone 35N (metres)


def synthetic(lang: str = "zh", circle: bool = True, demo: bool = False) -> GuideMap:
    area = shapely.box(X0, Y0, X0 + 500, Y0 + 400)
    origin = (X0 + 250, Y0 + 200)
    walk = shapely.Point(origin).buffer(900).difference(shapely.Point(X0 + 700, Y0 + 200).buffer(150))
    streets = [
        ("primary", "Mannerheimintie", shapely.LineString([(X0 - 600, Y0 + 120), (X0 + 1100, Y0 + 160)])),
        ("residential", "Annankatu", shapely.LineString([(X0 + 100, Y0 - 700), (X0 + 140, Y0 + 900)])),
        ("footway", None, shapely.LineString([(X0, Y0), (X0 + 500, Y0 + 400)])),
    ]
    buildings = [shapely.box(X0 + 10 + 60 * i, Y0 + 250, X0 + 50 + 60 * i, Y0 + 300) for i in range(8)]
    facilities = [
        Facility("pharmacy", "Apteekki Eliel", (X0 + 300, Y0 + 260), True, True, 240.0, 120.0),
        Facility("pharmacy", "Kluuvin Apteekki", (X0 + 900, Y0 + 500), False, False, 1300.0, 700.0),
        Facility("school", "Ressun lukio", (X0 + 50, Y0 + 350), True, True, 400.0, 260.0),
        Facility("community_center", "Luckan", origin, True, True, 0.0, 0.0),
    ]
    view = render.view_extent(shapely.union(area, walk).bounds if circle else area.bounds)
    return GuideMap(
        lang=lang,
        area_name="测试社区",
        area_level="community",
        boundary=area,
        view=view,
        origin=origin,
        origin_kind="community_center",
        origin_name="Luckan",
        circle=walk if circle else None,
        minutes=15,
        speed_kmh=4.5,
        facilities=facilities,
        category_labels=FacilityRules.load().labels(lang),
        basemap=Basemap(
            roads=streets,
            buildings=buildings,
            water=[shapely.box(X0 + 600, Y0 - 500, X0 + 900, Y0)],
            green=[shapely.box(X0 - 400, Y0 + 500, X0, Y0 + 800)],
        ),
        crs_name="WGS 84 / UTM zone 35N",
        epsg=32635,
        date="2024-05-01",
        parents=["测试街道", "测试区"],
        north_deg=1.8,
        scale_factor=0.9997,
        demo=demo,
        no_network=not circle,
    )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def png() -> bytes:
    return render.render(synthetic(), "png")


def test_png_is_a4_at_300_dpi_and_not_blank(png: bytes) -> None:
    pixels = png_pixels(png)
    assert pixels.shape[:2] == (3508, 2480)
    rgb = pixels[..., :3]
    assert rgb.std() > 0.05, "the page is (nearly) one colour"
    colours = np.unique((rgb[::7, ::7] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50, f"only {len(colours)} colours on the page"


def test_png_shows_the_circle_and_the_icons(png: bytes) -> None:
    rgb = (png_pixels(png)[..., :3] * 255).astype(int)

    def share(hex_colour: str, tolerance: int = 12) -> float:
        target = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
        return float((np.abs(rgb - target).max(axis=-1) <= tolerance).mean())

    assert share(render.CIRCLE_EDGE) > 0.002, "the circle's outline is missing"
    assert share(render.BOUNDARY) > 0.0005, "the area boundary is missing"
    for category in ("pharmacy", "school", "community_center"):
        colour = render.icon_for(category).colour
        assert share(colour, 6) > 0.00002, f"no {category} icon colour on the page"


def test_pdf_is_one_a4_page_with_the_legend(tmp_path: Path) -> None:
    pdf = render.render(synthetic(demo=True), "pdf")
    assert pdf.startswith(b"%PDF-")
    info = pdf_info(pdf, tmp_path)
    assert info["Pages"] == "1"
    width, height = (float(v) for v in info["Page size"].split(" pts")[0].split(" x "))
    assert abs(width - 595.28) < 1 and abs(height - 841.89) < 1
    text = pdf_text(pdf, tmp_path)
    assert squash("测试社区 便民生活服务圈导视图") in text
    labels = FacilityRules.load().labels("zh")
    for present in ("pharmacy", "school", "community_center"):
        assert squash(labels[present]) in text
    for absent in ("elderly_care", "bank", "hospital"):
        assert squash(labels[absent]) not in text, f"legend lists {absent}, which is not on the map"
    for key in ("legend", "boundary.community", "note.attribution", "note.demo"):
        assert squash(TEXT["zh"][key]) in text
    assert squash("15分钟步行范围") in text
    assert squash("Apteekki Eliel") in text and squash("步行约 4 分钟") in text  # nearest pharmacy, 240 s
    assert squash("2024-05-01") in text and squash("EPSG:32635") in text


def test_english_legend(tmp_path: Path) -> None:
    text = pdf_text(render.render(synthetic(lang="en"), "pdf"), tmp_path)
    assert squash("Legend") in text and squash("Convenience Life-Circle Guide Map") in text
    assert squash("Pharmacy") in text and squash("School") in text and squash("Community centre") in text
    assert squash("图例") not in text and squash("药店") not in text
    assert squash("DEMO DATA") not in text  # not a demo area


def test_without_a_circle_the_map_says_why(tmp_path: Path) -> None:
    data = synthetic(circle=False)
    text = pdf_text(render.render(data, "pdf"), tmp_path)
    note = squash(TEXT["zh"]["note.no_network"].format(minutes=15))
    assert squash(TEXT["zh"]["note.no_network.short"]) in text and note in text
    assert squash("15分钟步行范围") not in text.replace(note, ""), "a circle in the legend, but none drawn"
    assert squash("区内") in text  # counts are per area when there is no circle
    png = png_pixels(render.render(data, "png"))
    assert png.shape[:2] == (3508, 2480)


def test_view_extent_fits_the_frame_and_the_content() -> None:
    x0, y0, x1, y1 = render.view_extent((0.0, 0.0, 2000.0, 100.0))
    assert (x1 - x0) / (y1 - y0) == pytest.approx(render.MAP_ASPECT)
    assert x0 < 0 and x1 > 2000 and y0 < 0 and y1 > 100
    small = render.view_extent((0.0, 0.0, 10.0, 10.0))
    assert min(small[2] - small[0], small[3] - small[1]) >= 600


def test_scale_bar_is_a_round_length() -> None:
    assert render.scale_label(250) == "250 m" and render.scale_label(2500) == "2.5 km"
    assert render.scale_label(25) == "25 m" and render.scale_label(0) == "0"


def test_the_cjk_font_is_the_simplified_chinese_noto_face() -> None:
    from matplotlib import font_manager

    from geo_service.guide_map.fonts import FAMILY, font

    path = font_manager.findfont(font(10), fallback_to_default=False)
    assert "NotoSansCJK" in path and FAMILY == "Noto Sans CJK SC"
