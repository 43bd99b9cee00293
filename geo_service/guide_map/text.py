"""The words on the guide map, in Chinese (default) and English."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "{name} 便民生活服务圈导视图",
        "subtitle": "{minutes}分钟步行便民生活圈",
        "parents": "所属：{names}",
        "legend": "图例",
        "boundary.community": "社区边界",
        "boundary.grid": "网格边界",
        "boundary.street": "街道边界",
        "boundary.district": "区边界",
        "circle": "{minutes}分钟步行范围",
        "origin.community_center": "社区服务中心（起点）",
        "origin.network_point": "起点",
        "origin.area_point": "区域中心",
        "dot": "其他设施（图标从略）",
        "count.circle": "圈内 {n} 处",
        "count.area": "区内 {n} 处",
        "count.view": "图内 {n} 处",
        "walk": "步行约 {minutes} 分钟",
        "walk.under": "步行 1 分钟内",
        "straight": "直线 {distance}",
        "unnamed": "未命名",
        "no_facilities": "图幅内暂无设施数据。",
        "categories": "设施类别 · 数量 · 最近的一处（图中编号）",
        "note.origin.community_center": "起点：区域内的社区服务中心「{name}」。",
        "note.origin.network_point": "起点：区域内没有社区服务中心，取区域内靠近中心的步行路网上的一点。",
        "note.origin.area_point": "起点：区域内没有社区服务中心，取区域中心的一点。",
        "note.method": "{minutes}分钟步行范围沿步行路网按 {speed} km/h 计算（不是直线距离；范围内小于 5 公顷的街区内部不单独标出），步行时间同此。",
        "note.no_network": "该区域附近没有步行路网数据，未绘制{minutes}分钟步行范围。",
        "note.no_network.short": "附近无步行路网数据，未绘制步行范围",
        "note.crs": "坐标系：{crs}（EPSG:{epsg}），比例尺为实地距离。制图日期：{date}。",
        "note.attribution": "地图数据 © OpenStreetMap contributors（ODbL）",
        "note.demo": "演示数据（DEMO DATA）：本区域及其边界为程序生成的演示数据，并非真实行政区划。",
        "north": "北",
    },
    "en": {
        "title": "{name} — Convenience Life-Circle Guide Map",
        "subtitle": "{minutes}-minute walking life circle",
        "parents": "Part of: {names}",
        "legend": "Legend",
        "boundary.community": "Community boundary",
        "boundary.grid": "Grid boundary",
        "boundary.street": "Street (subdistrict) boundary",
        "boundary.district": "District boundary",
        "circle": "{minutes}-minute walk",
        "origin.community_center": "Community service centre (start)",
        "origin.network_point": "Start point",
        "origin.area_point": "Area centre",
        "dot": "Other facilities (icon omitted)",
        "count.circle": "{n} within",
        "count.area": "{n} in area",
        "count.view": "{n} on map",
        "walk": "{minutes} min walk",
        "walk.under": "under 1 min walk",
        "straight": "{distance} straight",
        "unnamed": "unnamed",
        "no_facilities": "No facilities on record in this map.",
        "categories": "Category · count · nearest (number on the map)",
        "note.origin.community_center": 'Start: the community service centre "{name}" inside the area.',
        "note.origin.network_point": "Start: no community service centre in the area; a point on the walking network near its centre.",
        "note.origin.area_point": "Start: no community service centre in the area; a point near its centre.",
        "note.method": "The {minutes}-minute walk follows the walking network at {speed} km/h (not a straight-line radius; block interiors under 5 ha are not shown as gaps); so do walking times.",
        "note.no_network": "No walking network near this area: the {minutes}-minute walk is not drawn.",
        "note.no_network.short": "No walking network nearby: walk not drawn",
        "note.crs": "Projection: {crs} (EPSG:{epsg}); the scale bar is ground distance. Made on {date}.",
        "note.attribution": "Map data © OpenStreetMap contributors (ODbL)",
        "note.demo": "DEMO DATA: this area and its boundary are generated demo data, not a real administrative area.",
        "north": "N",
    },
}


def say(lang: Lang, key: str, **values: object) -> str:
    return TEXT[lang][key].format(**values)


def number(value: float) -> str:
    """``value`` without a needless ``.0`` (15 → "15", 4.5 → "4.5")."""
    return f"{value:g}"


def distance(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{round(metres / 10) * 10:.0f} m"
