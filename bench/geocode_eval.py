"""The geocoder on a labelled evaluation set of Chinese addresses over a gazetteer of a million entries.

    .venv/bin/python bench/geocode_eval.py            # 1,000,000+ entries, 1,400+ queries
    .venv/bin/python bench/geocode_eval.py --quick    # 60,000 entries, 350 queries (a minute or two)

**Gazetteer** (synthetic, seeded, written once into the database ``gs_bench_geocode_eval`` and reused while
its size and seed match): a city of 11 districts (real names of 广州市, so the province/city/district prefix
is recognised), 15 subdistricts (街道) per district and 10 communities (社区) per subdistrict, each with its
place entry; about 7,000 roads (roots × 东西南北中 / 一二三… / 路街大道大街巷横路: 中山路, 中山北路, 中山一路 are three
roads) with house numbers along them (odd and even sides), a few road names used in two districts;
residential compounds (小区/花园/家园/苑…) with their buildings (3栋, 5号楼, 2幢, A座); POIs (schools, hospitals,
branch banks and chain stores named after their road, metro and bus stations, parks, police stations, party
service centres), 6% of them stored in traditional characters as Hong Kong or Taiwan data would be. Every
entry carries its division names (``addr:*``). The import path is the real one (keys computed by
:mod:`geo_service.geocode.keys`, written by :func:`geo_service.store.gazetteer.copy_keyed_gazetteer`).

**Queries** (seeded), each labelled with the entry it means, or as one that must not place an incident:

- addresses as written (exact, with province/city/district, traditional, Chinese numerals, without 号);
- typos: a road character replaced by one that sounds the same (天河路 → 天和路, as a hotline operator
  types what was said), a POI or compound name with a character wrong, missing, extra or swapped;
- pinyin: full (``tianhelu 385 hao``, ``tiyuzhongxinzhan``) and initials of long POI names;
- missing or extra parts: a building without 小区, with unit and room, a POI with 门口/对面/附近;
- coarse (must be refused: a city, district, subdistrict, community, a road, a road with a house number
  it does not have, a district and road) and ambiguous (a road name two districts share, no district given).

**Measured**, ours over HTTP (a real ``geo-service serve`` process, ``GET /api/geocode``, one query at a
time, caches warm) and the baseline — plain pg_trgm ``similarity()`` over the raw names
(``WHERE name % q ORDER BY similarity(name, q) DESC``), served the same way by a minimal uvicorn app
(``--serve-baseline``) — on the same queries:

- top-1: the first candidate is the labelled entry (queries that have one);
- accepted right / wrong: what address-only intake would do with the candidates (ours:
  :func:`geo_service.geocode.service.decide` with the default settings; baseline: its best when its
  similarity is at least the same minimum score and no rival elsewhere comes within the margin);
- coarse accepted: share of the must-refuse queries that would have placed an incident (target 0);
- p50 / p99 latency per request, milliseconds.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import opencc
import psycopg2
import shapely
from common import REPO, admin_dsn, bench_database, markdown_table
from pypinyin import Style, lazy_pinyin
from tqdm import tqdm

from geo_service.db.pool import Database, resolve_dsn
from geo_service.geocode.index import gazetteer_rows
from geo_service.geocode.service import Candidate, decide, distance_m, geocode
from geo_service.settings import DatabaseSettings, IncidentSettings
from geo_service.store import datasets
from geo_service.store import gazetteer as gazetteer_store
from geo_service.store.bulk import ewkb_hex

DB_NAME = "gs_bench_geocode_eval"
DATASET = "geocode_eval"
SEED = 12
PROVINCE, CITY = "广东省", "广州市"
DISTRICTS = [
    "天河区",
    "越秀区",
    "海珠区",
    "荔湾区",
    "白云区",
    "黄埔区",
    "番禺区",
    "花都区",
    "南沙区",
    "从化区",
    "增城区",
]
CITY_BOX = (113.10, 22.90, 113.70, 23.50)  # lon/lat degrees, 3 × 4 district boxes (one spare)
ROOTS = [
    "中山",
    "人民",
    "解放",
    "建设",
    "和平",
    "胜利",
    "延安",
    "南京",
    "北京",
    "淮海",
    "长江",
    "黄河",
    "光明",
    "幸福",
    "文化",
    "新华",
    "朝阳",
    "东风",
    "青年",
    "友谊",
    "团结",
    "复兴",
    "花园",
    "工农",
    "民主",
    "健康",
    "环城",
    "滨江",
    "西湖",
    "天山",
    "昆仑",
    "泰山",
    "华山",
    "长安",
    "太平",
    "永安",
    "金陵",
    "望江",
    "桂林",
    "春风",
    "天河",
    "白云",
    "越秀",
    "珠江",
    "海珠",
    "荔湾",
    "黄埔",
    "番禺",
    "花都",
    "南沙",
    "从化",
    "增城",
    "体育",
    "华南",
    "五山",
    "石牌",
    "岗顶",
    "龙口",
    "林和",
    "沙河",
    "员村",
    "车陂",
    "东圃",
    "棠下",
    "猎德",
    "冼村",
    "杨箕",
    "五羊",
    "农林",
    "东湖",
    "越华",
    "德政",
    "文德",
    "北京",
    "惠福",
    "光孝",
    "盘福",
    "流花",
    "三元",
    "广园",
    "机场",
    "同和",
    "京溪",
    "梅花",
    "新市",
    "棠景",
    "松洲",
    "石井",
    "江高",
    "人和",
    "太和",
    "钟落潭",
    "江南",
    "宝岗",
    "昌岗",
    "新港",
    "赤岗",
    "琶洲",
    "南洲",
    "瑞宝",
    "江海",
    "龙凤",
    "沙园",
    "素社",
    "凤阳",
    "南石",
    "华洲",
    "官洲",
    "逢源",
    "多宝",
    "昌华",
    "金花",
    "西村",
    "彩虹",
    "南源",
    "站前",
    "桥南",
    "市桥",
    "大石",
    "洛浦",
    "钟村",
    "石碁",
    "化龙",
    "新造",
    "小谷围",
    "大学城",
    "黄阁",
    "横沥",
    "万顷",
    "榄核",
    "新垦",
    "龙穴",
    "新塘",
    "永和",
    "荔城",
    "增江",
    "朱村",
    "石滩",
    "仙村",
    "派潭",
    "正果",
    "小楼",
    "福和",
    "新华",
    "秀全",
    "新雅",
    "花城",
    "花东",
    "花山",
    "炭步",
    "赤坭",
    "梯面",
    "狮岭",
    "街口",
    "城郊",
    "江埔",
    "鳌头",
    "良口",
    "吕田",
    "温泉",
    "太平",
    "大岭",
    "萝岗",
    "联和",
    "长岭",
    "永宁",
    "九佛",
    "夏港",
    "文冲",
    "红山",
    "鱼珠",
    "南岗",
    "穗东",
    "长洲",
    "荔联",
    "丰乐",
    "开创",
    "科学",
    "香雪",
    "水西",
    "玉岩",
    "天鹿",
    "广汕",
    "华观",
    "科韵",
    "中山大道",
    "黄埔大道",
    "天府",
    "锦绣",
    "翠竹",
    "松柏",
    "桂花",
    "榕树",
    "木棉",
    "紫荆",
    "玉兰",
    "牡丹",
    "芙蓉",
    "海棠",
    "丁香",
    "茉莉",
    "百合",
    "兰花",
    "菊花",
    "梧桐",
    "银杏",
    "青松",
    "翠柏",
    "竹园",
    "梅园",
    "桃源",
    "杏林",
    "柳堤",
    "荷塘",
    "莲花",
    "凤凰",
    "麒麟",
    "白鹤",
    "金鹰",
    "飞鹅",
    "龙腾",
    "虎跃",
    "鹿鸣",
    "燕归",
    "雁塔",
    "鹏程",
    "鸿运",
    "吉祥",
    "如意",
    "安康",
    "宁静",
    "和谐",
    "繁荣",
    "兴旺",
    "昌盛",
    "振兴",
    "富强",
    "文明",
    "明珠",
    "宝石",
    "翡翠",
    "玛瑙",
    "珍珠",
    "水晶",
    "金沙",
    "银河",
    "星光",
    "月明",
    "日升",
    "朝霞",
    "晚霞",
    "彩云",
    "清风",
    "细雨",
    "春晓",
    "夏荷",
    "秋实",
    "冬青",
]
DIRECTIONS = ["", "东", "西", "南", "北", "中"]
ORDINALS = ["一", "二", "三", "四", "五"]
ROAD_TYPES = ["路", "路", "路", "街", "大道", "大街", "巷", "横路", "直街"]
COMPOUND_SUFFIXES = [
    "小区",
    "小区",
    "小区",
    "花园",
    "家园",
    "新村",
    "公寓",
    "苑",
    "府",
    "雅苑",
    "名苑",
    "华庭",
    "山庄",
]
COMPOUND_WORDS = [
    "丽景",
    "翠湖",
    "锦园",
    "碧水",
    "金域",
    "雅居",
    "御景",
    "天誉",
    "星河",
    "汇景",
    "骏景",
    "美林",
    "华景",
    "逸景",
    "南国",
    "富力",
    "保利",
    "万科",
    "恒大",
    "中海",
    "珠江",
    "凯旋",
    "东方",
    "西城",
    "南湖",
    "北苑",
    "阳光",
    "春晖",
    "海滨",
    "江畔",
    "湖畔",
    "云山",
    "碧桂",
    "紫薇",
    "芳草",
    "怡安",
    "康乐",
    "福满",
    "瑞景",
    "祥和",
    "康城",
    "颐和",
    "嘉和",
    "荟景",
    "君华",
    "尚东",
    "领峰",
    "誉峰",
    "名门",
    "金碧",
    "盈彩",
    "侨林",
    "怡乐",
    "新天",
    "兰亭",
    "荔苑",
    "棠德",
    "龙湖",
    "花语",
    "水岸",
    "雅园",
    "聚德",
    "天盈",
    "丰泽",
    "绿洲",
    "祈福",
    "广氮",
    "华南",
    "海印",
    "帝景",
    "德馨",
    "翠屏",
    "云景",
    "越秀",
    "金穗",
]
BUILDING_STYLES = [("{}栋", 0.5), ("{}号楼", 0.25), ("{}幢", 0.15), ("{}座", 0.1)]
BANKS = [
    "中国工商银行",
    "中国建设银行",
    "中国农业银行",
    "中国银行",
    "交通银行",
    "招商银行",
    "广州农商银行",
    "中国邮政储蓄银行",
]
STORES = [
    "百佳超市",
    "华润万家",
    "美宜佳",
    "7-Eleven便利店",
    "钱大妈",
    "大参林大药房",
    "老百姓大药房",
    "麦当劳",
    "肯德基",
    "中国移动营业厅",
    "顺丰速运",
    "菜鸟驿站",
]
SCHOOL_TYPES = ["小学", "中学", "实验学校", "幼儿园", "职业技术学校"]
HEALTH_TYPES = ["医院", "社区卫生服务中心", "中医院", "妇幼保健院", "口腔门诊"]
OTHER_POIS = [
    "公园",
    "派出所",
    "文化广场",
    "体育中心",
    "图书馆",
    "菜市场",
    "农贸市场",
    "党群服务中心",
    "邮政所",
    "消防站",
]
COMMON_CHARS = (
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家十用发天如然作方成"
    "者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从知工样政民明力文本高无已开意把体长理表实加部金情点正应"
    "新平外全通东西南北路街道河湖江海山林园花树华光荣兴安康宁福寿喜乐春夏秋冬风云雨雪月星辰宝玉珠翠锦绣龙凤鹤鹏燕雁鹰虎鹿马"
    "建设胜利延京淮长黄友谊团结复工农健环滨泰昆仑桂永陵望越秀沙员车陂圃棠猎冼箕羊惠孝盘流机场溪梅市松洲井潭石牌岗顶口和元广"
    "宝赤琶瑞凤素逢源多昌彩虹站桥南洛浦钟碁化造谷围黄阁沥万顷榄垦穴塘荔增朱滩仙派果楼雅秀城狮良吕温岭萝佛夏港冲红鱼穗丰创科"
    "香玉岩汕观韵府锦翠柏桂榕棉荆兰牡丹芙蓉棠丁茉莉百合菊梧桐杏柳堤荷莲麒麟白金飞鹅腾跃鸣归塔程鸿运吉祥如意静谐繁旺盛振富强"
    "文明琉璃翡翠玛瑙珍水晶银河彩清细晓实青丽景碧域居御誉汇骏美逸国力保恒凯旋阳晖畔紫薇芳草怡福满嘉荟君尚领峰名门盈侨亭聚盈泽"
    "绿洲祈氮印帝德馨屏鸟佳润家鑫达隆泰盛发利源通顺捷迅航宇宙环球际洋沪津渝蜀豫鲁晋冀辽吉黑苏浙皖闽赣湘鄂粤桂琼川贵滇藏陕甘"
)


@dataclass
class Entry:
    kind: str
    name: str
    lon: float
    lat: float
    admin: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Query:
    text: str
    category: str
    expected: Entry | None  # None: must be refused


# -- the gazetteer ------------------------------------------------------------------------------------------


class City:
    """A synthetic city: districts, subdistricts, communities, roads, compounds and POIs with coordinates."""

    def __init__(self, rng: random.Random, scale: float) -> None:
        self.rng = rng
        self.scale = scale
        self.entries: list[Entry] = []
        self.roads: list[dict[str, Any]] = []
        self.compounds: list[dict[str, Any]] = []
        self.pois: list[Entry] = []
        self.subdistricts: list[Entry] = []
        self.communities: list[Entry] = []
        self.district_entries: list[Entry] = []
        self.shared_roads: list[str] = []
        self.boxes: dict[str, tuple[float, float, float, float]] = {}
        self._sub_boxes: list[tuple[str, str, tuple[float, float, float, float]]] = []
        self._community_boxes: list[tuple[str, tuple[float, float, float, float]]] = []

    # geography
    def _districts(self) -> None:
        west, south, east, north = CITY_BOX
        dx, dy = (east - west) / 3, (north - south) / 4
        roots = self.rng.sample(sorted(set(ROOTS)), 165)
        pairs: set[str] = set()
        while len(pairs) < 1650:  # community names: two characters of two roots (华景, 棠下 …)
            pairs.add(self.rng.choice(ROOTS)[0] + self.rng.choice(ROOTS)[-1])
        roots += sorted(pairs)
        self.entries.append(
            Entry("place:city", CITY, (west + east) / 2, (south + north) / 2, {"addr:province": PROVINCE})
        )
        for k, district in enumerate(DISTRICTS):
            col, row = k % 3, k // 3
            box = (west + col * dx, south + row * dy, west + (col + 1) * dx, south + (row + 1) * dy)
            self.boxes[district] = box
            admin = {"addr:province": PROVINCE, "addr:city": CITY}
            entry = Entry("place:suburb", district, (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, admin)
            self.entries.append(entry)
            self.district_entries.append(entry)
            sx, sy = (box[2] - box[0]) / 3, (box[3] - box[1]) / 5
            for s in range(15):
                sub_box = (
                    box[0] + (s % 3) * sx,
                    box[1] + (s // 3) * sy,
                    box[0] + (s % 3 + 1) * sx,
                    box[1] + (s // 3 + 1) * sy,
                )
                name = f"{roots[k * 15 + s]}街道"
                self._sub_boxes.append((district, name, sub_box))
                sub = Entry(
                    "place:quarter",
                    name,
                    (sub_box[0] + sub_box[2]) / 2,
                    (sub_box[1] + sub_box[3]) / 2,
                    {**admin, "addr:district": district},
                )
                self.entries.append(sub)
                self.subdistricts.append(sub)
                cx, cy = (sub_box[2] - sub_box[0]) / 2, (sub_box[3] - sub_box[1]) / 5
                for c in range(10):
                    c_box = (
                        sub_box[0] + (c % 2) * cx,
                        sub_box[1] + (c // 2) * cy,
                        sub_box[0] + (c % 2 + 1) * cx,
                        sub_box[1] + (c // 2 + 1) * cy,
                    )
                    c_name = f"{roots[165 + (k * 15 + s) * 10 + c]}{'社区' if c % 3 else '村'}"
                    community = Entry(
                        "place:neighbourhood",
                        c_name,
                        (c_box[0] + c_box[2]) / 2,
                        (c_box[1] + c_box[3]) / 2,
                        {**admin, "addr:district": district, "addr:subdistrict": name},
                    )
                    self._community_boxes.append((c_name, c_box))
                    self.entries.append(community)
                    self.communities.append(community)

    def admin_at(self, district: str, lon: float, lat: float) -> dict[str, str]:
        admin = {"addr:province": PROVINCE, "addr:city": CITY, "addr:district": district}
        for d, name, (w, s, e, n) in self._sub_boxes:
            if d == district and w <= lon <= e and s <= lat <= n:
                admin["addr:subdistrict"] = name
                break
        return admin

    def _point_in(self, district: str, margin: float = 0.01) -> tuple[float, float]:
        w, s, e, n = self.boxes[district]
        return self.rng.uniform(w + margin, e - margin), self.rng.uniform(s + margin, n - margin)

    def _roads(self) -> None:
        target = int(7000 * self.scale)
        names: set[str] = set()
        rng = self.rng
        while len(names) < target:
            root = rng.choice(ROOTS)
            style = rng.random()
            kind = rng.choice(ROAD_TYPES)
            if root.endswith(("大道", "路")):
                name = root + (rng.choice(["东", "西", "南", "北"]) if style < 0.3 else "")
            elif style < 0.45:
                name = f"{root}{kind}"
            elif style < 0.75:
                name = f"{root}{rng.choice(DIRECTIONS[1:])}{kind if kind not in ('横路', '直街') else '路'}"
            else:
                name = f"{root}{rng.choice(ORDINALS)}{'路' if kind != '巷' else '巷'}"
            names.add(name)
        ordered = sorted(names)
        rng.shuffle(ordered)
        shared = set(ordered[: max(3, len(ordered) // 40)])  # 2.5% of names in two districts
        for name in ordered:
            for district in rng.sample(DISTRICTS, 2 if name in shared else 1):
                self._road(name, district)
        self.shared_roads = sorted(shared)

    def _road(self, name: str, district: str) -> None:
        rng = self.rng
        lon0, lat0 = self._point_in(district, 0.02)
        length_deg = rng.uniform(0.004, 0.025)
        angle = rng.uniform(0, math.pi)
        ux, uy = math.cos(angle), math.sin(angle)
        count = int(rng.uniform(30, 200) * (0.7 if name.endswith("巷") else 1))
        road = {"name": name, "district": district, "numbers": count, "lon": lon0, "lat": lat0}
        admin = self.admin_at(district, lon0, lat0)
        self.entries.append(Entry("street", name, lon0, lat0, admin))
        for n in range(1, count + 1):
            t = (n // 2) / (count / 2 + 1) - 0.5
            side = 1 if n % 2 else -1
            lon = lon0 + ux * t * length_deg - uy * side * 0.00018
            lat = lat0 + uy * t * length_deg + ux * side * 0.00015
            self.entries.append(
                Entry(
                    "address",
                    f"{name}{n}号",
                    lon,
                    lat,
                    admin,
                    {"addr:street": name, "addr:housenumber": str(n)},
                )
            )
        self.roads.append(road)

    def _compounds(self) -> None:
        rng = self.rng
        target = int(7500 * self.scale)
        names: set[str] = set()
        while len(names) < target:
            word = rng.choice(COMPOUND_WORDS) + (rng.choice(ROOTS)[:1] if rng.random() < 0.6 else "")
            names.add(word + rng.choice(COMPOUND_SUFFIXES))
        for name in sorted(names):
            district = rng.choice(DISTRICTS)
            lon0, lat0 = self._point_in(district)
            admin = self.admin_at(district, lon0, lat0)
            entry = Entry("poi", name, lon0, lat0, admin)
            self.entries.append(entry)
            style = rng.choices([s for s, _ in BUILDING_STYLES], [w for _, w in BUILDING_STYLES])[0]
            count = rng.randint(4, 40)
            buildings = []
            for b in range(1, count + 1):
                label = chr(ord("A") + b - 1) if style == "{}座" and b <= 8 else str(b)
                blon, blat = lon0 + rng.uniform(-0.002, 0.002), lat0 + rng.uniform(-0.0015, 0.0015)
                building = Entry("building", name + style.format(label), blon, blat, admin, {"label": label})
                buildings.append(building)
                self.entries.append(building)
            self.compounds.append({"entry": entry, "buildings": buildings, "style": style})

    def _pois(self) -> None:
        rng = self.rng
        t2hk = opencc.OpenCC("s2hk")
        target = int(90000 * self.scale)
        made = 0
        seen: Counter[str] = Counter()
        while made < target:
            road = rng.choice(self.roads)
            district = road["district"]
            r = rng.random()
            root = rng.choice(ROOTS)
            if r < 0.2:
                name = f"{rng.choice(BANKS)}({road['name']}支行)"
            elif r < 0.45:
                name = f"{rng.choice(STORES)}({road['name']}店)"
            elif r < 0.6:
                name = f"{root}{rng.choice(SCHOOL_TYPES)}"
            elif r < 0.7:
                name = f"{root}{rng.choice(HEALTH_TYPES)}"
            elif r < 0.8:
                name = (
                    f"{road['name']}站"
                    if rng.random() < 0.5
                    else f"{root}{rng.choice(['地铁站', '公交总站', '客运站'])}"
                )
            else:
                name = f"{root}{rng.choice(OTHER_POIS)}"
            if seen[name]:
                continue  # a branch, school or park name once per city
            seen[name] += 1
            lon = road["lon"] + rng.uniform(-0.004, 0.004)
            lat = road["lat"] + rng.uniform(-0.004, 0.004)
            traditional = rng.random() < 0.06
            stored = t2hk.convert(name) if traditional else name
            entry = Entry(
                "poi",
                stored,
                lon,
                lat,
                self.admin_at(district, lon, lat),
                {"simplified": name, "traditional": traditional},
            )
            self.entries.append(entry)
            self.pois.append(entry)
            made += 1

    def build(self) -> City:
        self._districts()
        self._roads()
        self._compounds()
        self._pois()
        return self


def generate(scale: float, seed: int) -> City:
    return City(random.Random(seed), scale).build()


def write(db: Database, city: City, marker: dict[str, Any]) -> None:
    """Write the gazetteer through the real import path (keys computed, two COPYs), with a progress bar."""
    with db.connection() as conn, conn.cursor() as cur:
        datasets.drop_dataset(cur, DATASET)
        datasets.insert_dataset(cur, DATASET, "synthetic", 32649, CITY_BOX, marker)
        chunk = 50_000
        with tqdm(total=len(city.entries), desc="key and write gazetteer", unit="entry") as bar:
            for start in range(0, len(city.entries), chunk):
                part = city.entries[start : start + chunk]
                rows = gazetteer_rows(
                    [e.kind for e in part],
                    [e.name for e in part],
                    [
                        {**e.admin, **{k: v for k, v in e.extra.items() if k.startswith("addr:")}}
                        for e in part
                    ],
                    ewkb_hex(shapely.points([e.lon for e in part], [e.lat for e in part])),
                )
                gazetteer_store.copy_keyed_gazetteer(cur, DATASET, rows)
                bar.update(len(part))
    with db.connection() as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE gazetteer")
            cur.execute("VACUUM ANALYZE geocode_names")


def stored_marker_of(dsn: str) -> dict[str, Any] | None:
    """What the stored gazetteer was generated with (None when there is none)."""
    try:
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT stats FROM datasets WHERE name = %s", (DATASET,))
            row = cur.fetchone()
    except psycopg2.Error:
        return None
    return None if row is None else row[0]


def drop_database() -> None:
    admin = psycopg2.connect(admin_dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    admin.close()


# -- the queries ----------------------------------------------------------------------------------------------


def homophones() -> dict[str, list[str]]:
    """Characters that share a toneless pinyin syllable (what a hotline operator may type instead)."""
    by_sound: dict[str, list[str]] = defaultdict(list)
    for ch in dict.fromkeys(COMMON_CHARS + "".join(ROOTS)):
        sound = lazy_pinyin(ch)[0]
        by_sound[sound].append(ch)
    return {
        ch: [o for o in group if o != ch] for group in by_sound.values() for ch in group if len(group) > 1
    }


def chinese_number(n: int) -> str:
    digits = "零一二三四五六七八九"
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = f"{digits[hundreds]}百" if hundreds else ""
    if tens:
        out += ("" if tens == 1 and not hundreds else digits[tens]) + "十"
    elif hundreds and ones:
        out += "零"
    return out + (digits[ones] if ones else "")


GENERIC_ENDINGS = (
    "社区卫生服务中心",
    "职业技术学校",
    "实验学校",
    "党群服务中心",
    "农贸市场",
    "文化广场",
    "体育中心",
    "地铁站",
    "公交总站",
    "客运站",
    "妇幼保健院",
    "口腔门诊",
    "中医院",
    "菜市场",
    "派出所",
    "图书馆",
    "消防站",
    "邮政所",
    "幼儿园",
    "小学",
    "中学",
    "医院",
    "公园",
    "小区",
    "花园",
    "家园",
    "新村",
    "公寓",
    "雅苑",
    "名苑",
    "华庭",
    "山庄",
    "路站",
    "街站",
    "巷站",
    "站",
    "苑",
    "府",
)


def _typo(rng: random.Random, text: str, sounds: dict[str, list[str]]) -> str:
    """One character of the distinctive part (not 医院, 小区, 站 …) wrong, missing, extra or swapped; a wrong
    character is one that sounds the same half of the time (how hotline operators mistype), any other
    otherwise. Directions and numerals are never touched: those would name other places."""
    ending = next((e for e in GENERIC_ENDINGS if text.endswith(e) and len(text) > len(e) + 1), "")
    root = text[: len(text) - len(ending)]
    protected = set("东南西北中一二三四五六七八九十路街巷道大")
    positions = [i for i, ch in enumerate(root) if ch not in protected]
    if len(root) < 2 or not positions:
        return text
    i = rng.choice(positions)
    kind = rng.random()
    if kind < 0.5:
        pool = sounds.get(root[i]) if rng.random() < 0.5 else None
        root = root[:i] + rng.choice(pool or COMMON_CHARS) + root[i + 1 :]
    elif kind < 0.7 and len(root) >= 3:
        root = root[:i] + root[i + 1 :]
    elif kind < 0.85:
        root = root[:i] + rng.choice(COMMON_CHARS) + root[i:]
    elif i + 1 < len(root) and root[i + 1] not in protected:
        root = root[:i] + root[i + 1] + root[i] + root[i + 2 :]
    else:
        root = root[:i] + rng.choice(COMMON_CHARS) + root[i + 1 :]
    return root + ending


def queries(city: City, rng: random.Random, per: int) -> list[Query]:
    """The labelled evaluation set: ``per`` queries of each kind (a few kinds fewer)."""
    s2t = opencc.OpenCC("s2t")
    sounds = homophones()
    road_names = {r["name"] for r in city.roads}
    unique_roads = [r for r in city.roads if r["name"] not in set(city.shared_roads)]
    out: list[Query] = []
    by_name: dict[str, list[Entry]] = defaultdict(list)
    for e in city.entries:
        by_name[e.name].append(e)

    def address(road: dict[str, Any], n: int) -> Entry:
        return next(
            e for e in by_name[f"{road['name']}{n}号"] if e.admin["addr:district"] == road["district"]
        )

    def add(category: str, count: int, make: Callable[[], Query | None]) -> None:
        made = tries = 0
        while made < count and tries < count * 50:
            tries += 1
            q = make()
            if q is not None and q.text:
                out.append(q)
                made += 1

    def pick_address() -> tuple[dict[str, Any], int, Entry]:
        road = rng.choice(unique_roads)
        n = rng.randint(1, road["numbers"])
        return road, n, address(road, n)

    def exact() -> Query:
        road, n, e = pick_address()
        return Query(f"{road['name']}{n}号", "address: exact", e)

    def prefixed() -> Query:
        road, n, e = pick_address()
        sub = e.admin.get("addr:subdistrict", "")
        form = rng.choice(
            [
                f"{PROVINCE}{CITY}{road['district']}",
                f"{CITY}{road['district']}",
                road["district"],
                f"广州{road['district']}",
                f"{road['district']}{sub}",
            ]
        )
        return Query(f"{form}{road['name']}{n}号", "address: with province/city/district", e)

    def traditional() -> Query:
        road, n, e = pick_address()
        return Query(s2t.convert(f"{CITY}{road['name']}{n}号"), "address: traditional characters", e)

    def numerals() -> Query:
        road, n, e = pick_address()
        return Query(f"{road['name']}{chinese_number(n)}号", "address: Chinese numerals", e)

    def no_hao() -> Query:
        road, n, e = pick_address()
        return Query(f"{road['name']} {n}", "address: without 号, with a space", e)

    def homophone() -> Query | None:
        road, n, e = pick_address()
        name = road["name"]
        spots = [i for i, ch in enumerate(name[:-1]) if ch in sounds and ch not in "东南西北中一二三四五"]
        if not spots:
            return None
        i = rng.choice(spots)
        typed = name[:i] + rng.choice(sounds[name[i]]) + name[i + 1 :]
        if typed in road_names:
            return None
        return Query(f"{typed}{n}号", "typo: road character that sounds the same", e)

    def poi_typo() -> Query | None:
        target = rng.choice(city.pois + [c["entry"] for c in city.compounds])
        plain = target.extra.get("simplified", target.name)
        if "(" in plain or len(plain) < 4:
            return None
        typed = _typo(rng, plain, sounds)
        if typed == plain or typed in by_name:
            return None
        return Query(typed, "typo: POI or compound name, one character", target)

    def poi_exact() -> Query:
        target = rng.choice(city.pois)
        return Query(target.extra.get("simplified", target.name), "POI: as named", target)

    def poi_traditional_stored() -> Query:
        target = rng.choice([p for p in city.pois if p.extra.get("traditional")])
        return Query(target.extra["simplified"], "POI stored in traditional, asked in simplified", target)

    def poi_traditional_asked() -> Query:
        target = rng.choice([p for p in city.pois if not p.extra.get("traditional")])
        return Query(s2t.convert(target.name), "POI asked in traditional", target)

    def poi_locative() -> Query | None:
        target = rng.choice(city.pois)
        plain = target.extra.get("simplified", target.name)
        if "(" in plain:
            return None
        return Query(
            plain + rng.choice(["门口", "对面", "附近", "旁边", "东门"]), "POI with 门口/对面/附近", target
        )

    def pinyin_address() -> Query:
        road, n, e = pick_address()
        syllables = lazy_pinyin(road["name"])
        text = "".join(syllables) if rng.random() < 0.5 else " ".join(syllables)
        return Query(f"{text} {n}{rng.choice([' hao', 'hao', ''])}", "pinyin: address", e)

    def pinyin_poi() -> Query | None:
        target = rng.choice(city.pois)
        plain = target.extra.get("simplified", target.name)
        if "(" in plain:
            return None
        return Query("".join(lazy_pinyin(plain)), "pinyin: POI, full", target)

    def initials_poi() -> Query | None:
        target = rng.choice(city.pois)
        plain = target.extra.get("simplified", target.name)
        if "(" in plain or len(plain) < 6:
            return None
        return Query("".join(lazy_pinyin(plain, style=Style.FIRST_LETTER)), "pinyin: POI, initials", target)

    def building(with_suffix: bool) -> Callable[[], Query | None]:
        def make() -> Query | None:
            compound = rng.choice(city.compounds)
            b = rng.choice(compound["buildings"])
            name = compound["entry"].name
            if not with_suffix:
                if not name.endswith("小区"):
                    return None
                name = name[:-2]
            label = b.extra["label"]
            style = rng.choice(["{}栋", "{}号楼", "{}幢"]) if label.isdigit() else "{}座"
            return Query(
                name + style.format(label),
                "building: " + ("as named, any of 栋/号楼/幢" if with_suffix else "without 小区"),
                b,
            )

        return make

    def building_unit_room() -> Query:
        compound = rng.choice(city.compounds)
        b = rng.choice(compound["buildings"])
        return Query(
            f"{b.name}{rng.randint(1, 4)}单元{rng.randint(1, 30)}0{rng.randint(1, 4)}室",
            "building: with unit and room",
            b,
        )

    # must be refused
    def coarse_city() -> Query:
        return Query(rng.choice([CITY, "广州", f"{PROVINCE}{CITY}"]), "coarse: city", None)

    def coarse_district() -> Query:
        d = rng.choice(DISTRICTS)
        return Query(rng.choice([d, f"{CITY}{d}", f"广州{d}"]), "coarse: district", None)

    def coarse_subdistrict() -> Query:
        sub = rng.choice(city.subdistricts)
        return Query(
            rng.choice([sub.name, f"{sub.admin['addr:district']}{sub.name}"]), "coarse: subdistrict", None
        )

    def coarse_community() -> Query:
        return Query(rng.choice(city.communities).name, "coarse: community", None)

    def coarse_road() -> Query:
        road = rng.choice(city.roads)
        return Query(rng.choice([road["name"], f"{road['district']}{road['name']}"]), "coarse: road", None)

    def coarse_missing_number() -> Query:
        road = rng.choice(unique_roads)
        return Query(
            f"{road['name']}{road['numbers'] + rng.randint(1, 300)}号",
            "coarse: house number not on the road",
            None,
        )

    def ambiguous_road() -> Query:
        name = rng.choice(city.shared_roads)
        numbers = min(r["numbers"] for r in city.roads if r["name"] == name)
        return Query(f"{name}{rng.randint(1, numbers)}号", "ambiguous: road name in two districts", None)

    kinds: list[tuple[str, int, Callable[[], Query | None]]] = [
        ("exact", per, exact),
        ("prefixed", per, prefixed),
        ("traditional", per, traditional),
        ("numerals", per // 2, numerals),
        ("no_hao", per // 2, no_hao),
        ("homophone", per, homophone),
        ("poi_typo", per, poi_typo),
        ("poi_exact", per // 2, poi_exact),
        ("poi_trad_stored", per // 2, poi_traditional_stored),
        ("poi_trad_asked", per // 2, poi_traditional_asked),
        ("poi_locative", per // 2, poi_locative),
        ("pinyin_address", per // 2, pinyin_address),
        ("pinyin_poi", per // 2, pinyin_poi),
        ("initials_poi", per // 2, initials_poi),
        ("building", per // 2, building(True)),
        ("building_no_suffix", per // 2, building(False)),
        ("building_unit_room", per // 2, building_unit_room),
        ("coarse_city", per // 5, coarse_city),
        ("coarse_district", per // 3, coarse_district),
        ("coarse_subdistrict", per // 3, coarse_subdistrict),
        ("coarse_community", per // 3, coarse_community),
        ("coarse_road", per // 2, coarse_road),
        ("coarse_missing_number", per // 2, coarse_missing_number),
        ("ambiguous_road", per // 4, ambiguous_road),
    ]
    for _label, count, make in kinds:
        add(_label, count, make)
    return out


# -- running --------------------------------------------------------------------------------------------------


def baseline_app(dsn: str) -> Any:
    """A pg_trgm-only geocoder: ``GET /baseline?q=`` → the 10 most similar raw names."""
    from fastapi import FastAPI

    app = FastAPI()
    db = Database(dsn, max_size=4)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/baseline")
    def baseline(q: str) -> dict[str, Any]:
        with db.cursor() as cur:
            cur.execute(
                """SELECT name, kind, ST_X(geom) AS lon, ST_Y(geom) AS lat, similarity(name, %(q)s) AS score
                   FROM gazetteer WHERE name %% %(q)s ORDER BY score DESC, length(name) LIMIT 10""",
                {"q": q},
            )
            return {"candidates": [dict(r) for r in cur.fetchall()]}

    return app


def _serve(args: list[str], port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a server process (its output to ``log``) and wait until it answers /healthz."""
    with log.open("wb") as sink:
        process = subprocess.Popen(args, env=env, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.terminate()
    raise RuntimeError("server did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Outcome:
    top1: bool | None
    accepted: bool
    accepted_right: bool
    seconds: float


def _same(candidate: dict[str, Any], entry: Entry) -> bool:
    return abs(candidate["lon"] - entry.lon) < 1e-6 and abs(candidate["lat"] - entry.lat) < 1e-6


def _ours(client: httpx.Client, query: Query, settings: IncidentSettings) -> Outcome:
    start = time.perf_counter()
    response = client.get("/api/geocode", params={"q": query.text, "limit": 10})
    seconds = time.perf_counter() - start
    response.raise_for_status()
    found = response.json()["candidates"]
    candidates = [
        Candidate(
            name=c["name"],
            kind=c["kind"],
            lon=c["lon"],
            lat=c["lat"],
            score=c["score"],
            source=c["source"],
            precision=c["precision"],
        )
        for c in found
    ]
    try:
        match = decide(
            query.text,
            candidates,
            settings.geocode_min_score,
            settings.geocode_margin,
            settings.geocode_same_place_m,
        )
        accepted, chosen = True, match.candidate.as_dict()
    except Exception:  # Conflict: refused
        accepted, chosen = False, None
    top1 = None if query.expected is None else bool(found) and _same(found[0], query.expected)
    right = accepted and query.expected is not None and chosen is not None and _same(chosen, query.expected)
    return Outcome(top1, accepted, right, seconds)


def _baseline(client: httpx.Client, query: Query, settings: IncidentSettings) -> Outcome:
    start = time.perf_counter()
    response = client.get("/baseline", params={"q": query.text})
    seconds = time.perf_counter() - start
    response.raise_for_status()
    found = response.json()["candidates"]
    accepted = False
    if found and found[0]["score"] >= settings.geocode_min_score:
        best = Candidate(
            found[0]["name"],
            found[0]["kind"],
            found[0]["lon"],
            found[0]["lat"],
            found[0]["score"],
            "gazetteer",
            "poi",
        )
        rivals = [
            c
            for c in found[1:]
            if c["score"] >= best.score - settings.geocode_margin
            and distance_m(best, Candidate(c["name"], c["kind"], c["lon"], c["lat"], c["score"], "", "poi"))
            > settings.geocode_same_place_m
        ]
        accepted = not rivals
    top1 = None if query.expected is None else bool(found) and _same(found[0], query.expected)
    right = accepted and query.expected is not None and _same(found[0], query.expected)
    return Outcome(top1, accepted, right, seconds)


def _pct(values: list[bool]) -> str:
    return f"{100 * sum(values) / len(values):.1f}%" if values else "–"


def _ms(seconds: list[float], q: float) -> str:
    ordered = sorted(seconds)
    return f"{1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.1f}"


def report(queries_: list[Query], ours: list[Outcome], base: list[Outcome]) -> str:
    categories = list(dict.fromkeys(q.category for q in queries_))
    rows = []
    for category in categories:
        idx = [i for i, q in enumerate(queries_) if q.category == category]
        must_refuse = queries_[idx[0]].expected is None
        if must_refuse:
            rows.append(
                [
                    category,
                    len(idx),
                    "–",
                    "–",
                    f"accepted {_pct([ours[i].accepted for i in idx])}",
                    f"accepted {_pct([base[i].accepted for i in idx])}",
                ]
            )
        else:
            rows.append(
                [
                    category,
                    len(idx),
                    _pct([ours[i].top1 for i in idx]),
                    _pct([base[i].top1 for i in idx]),
                    f"{_pct([ours[i].accepted_right for i in idx])} / {_pct([ours[i].accepted and not ours[i].accepted_right for i in idx])}",
                    f"{_pct([base[i].accepted_right for i in idx])} / {_pct([base[i].accepted and not base[i].accepted_right for i in idx])}",
                ]
            )
    labelled = [i for i, q in enumerate(queries_) if q.expected is not None]
    refuse = [i for i, q in enumerate(queries_) if q.expected is None]
    table = markdown_table(
        ["queries", "n", "top-1 ours", "top-1 pg_trgm", "accepted right / wrong, ours", "… pg_trgm"], rows
    )
    summary = markdown_table(
        ["", "ours", "pg_trgm similarity()"],
        [
            [
                "top-1 accuracy (labelled queries)",
                _pct([ours[i].top1 for i in labelled]),
                _pct([base[i].top1 for i in labelled]),
            ],
            [
                "placed at the right entry",
                _pct([ours[i].accepted_right for i in labelled]),
                _pct([base[i].accepted_right for i in labelled]),
            ],
            [
                "placed at a wrong entry",
                _pct([ours[i].accepted and not ours[i].accepted_right for i in labelled]),
                _pct([base[i].accepted and not base[i].accepted_right for i in labelled]),
            ],
            [
                "coarse or ambiguous accepted (target 0)",
                _pct([ours[i].accepted for i in refuse]),
                _pct([base[i].accepted for i in refuse]),
            ],
            [
                "p50 latency over HTTP, ms",
                _ms([o.seconds for o in ours], 0.5),
                _ms([o.seconds for o in base], 0.5),
            ],
            [
                "p99 latency over HTTP, ms",
                _ms([o.seconds for o in ours], 0.99),
                _ms([o.seconds for o in base], 0.99),
            ],
        ],
    )
    return f"{summary}\n\n{table}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="60,000 entries and ~350 queries")
    parser.add_argument("--per", type=int, default=None, help="queries per kind (default 100, quick 25)")
    parser.add_argument("--serve-baseline", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--show-misses", action="store_true", help="print the queries ours got wrong")
    args = parser.parse_args()
    dsn = resolve_dsn(DatabaseSettings(), DB_NAME)
    if args.serve_baseline:
        import uvicorn

        uvicorn.run(baseline_app(dsn), host="127.0.0.1", port=args.serve_baseline, log_level="warning")
        return
    scale = 0.06 if args.quick else 1.0
    per = args.per or (25 if args.quick else 100)
    # rewrite when the generator or the keying code changed (the stored keys would be stale)
    keying = hashlib.sha256(
        b"".join(
            (REPO / "geo_service" / "geocode" / f).read_bytes() for f in ("text.py", "parse.py", "keys.py")
        )
    ).hexdigest()[:16]
    generator = hashlib.sha256(Path(__file__).read_bytes().split(b"# -- the queries")[0]).hexdigest()[:16]
    marker = {"scale": scale, "seed": SEED, "generator": generator, "keying": keying}
    started = time.perf_counter()
    city = generate(scale, SEED)
    if stored_marker_of(dsn) != marker:  # a fresh database: the schema may have changed as well
        drop_database()
        db = bench_database(DB_NAME)
        write(db, city, marker)
    else:
        db = bench_database(DB_NAME)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM gazetteer WHERE dataset = %s", (DATASET,))
        entries = cur.fetchone()["n"]
    db.close()
    evaluation = queries(city, random.Random(SEED + 1), per)
    print(
        f"gazetteer: {entries:,} entries ({len(city.roads):,} roads, {len(city.compounds):,} compounds, "
        f"{len(city.pois):,} POIs); {len(evaluation):,} queries; built in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )

    env = {**os.environ, "GEO_SERVICE_DATABASE_URL": dsn, "GEO_SERVICE_INCIDENTS_ESCALATION_ENABLED": "false"}
    ours_port, base_port = _free_port(), _free_port()
    logs = Path(tempfile.mkdtemp(prefix="geocode-eval-"))
    geo_service_cli = Path(sys.executable).with_name("geo-service")
    servers = [
        _serve([str(geo_service_cli), "serve", "--port", str(ours_port)], ours_port, env, logs / "ours.log")
    ]
    try:
        servers.append(
            _serve(
                [sys.executable, __file__, "--serve-baseline", str(base_port)],
                base_port,
                env,
                logs / "baseline.log",
            )
        )
        settings = IncidentSettings()
        results: dict[str, list[Outcome]] = {}
        for label, port, run in (("ours", ours_port, _ours), ("pg_trgm", base_port, _baseline)):
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                for query in evaluation[:50]:  # warm the caches and the connection pool
                    run(client, query, settings)
                results[label] = [
                    run(client, q, settings) for q in tqdm(evaluation, desc=f"queries ({label})", unit="q")
                ]
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    # the search alone, in this process (no HTTP): what the service spends of the latency above
    inner_db = Database(dsn, max_size=2)
    for query in evaluation[:50]:
        geocode(inner_db, query.text, 10)
    inner = []
    for query in tqdm(evaluation, desc="queries (ours, in-process)", unit="q"):
        start = time.perf_counter()
        geocode(inner_db, query.text, 10)
        inner.append(time.perf_counter() - start)
    inner_db.close()
    load = os.getloadavg()
    if args.show_misses:
        for q, o in zip(evaluation, results["ours"], strict=True):
            if (
                (q.expected is not None and not o.top1)
                or (q.expected is None and o.accepted)
                or (o.accepted and not o.accepted_right and q.expected is not None)
            ):
                print(
                    f"MISS [{q.category}] {q.text!r} → expected {q.expected.name if q.expected else 'refusal'}"
                    f" (top1={o.top1}, accepted={o.accepted})",
                    file=sys.stderr,
                )
    print(
        f"\n{entries:,} gazetteer entries, {len(evaluation):,} queries "
        f"({sum(q.expected is None for q in evaluation)} must be refused)\n"
    )
    print(report(evaluation, results["ours"], results["pg_trgm"]))
    print(
        f"\nours in-process (no HTTP): p50 {_ms(inner, 0.5)} ms, p99 {_ms(inner, 0.99)} ms; "
        f"machine load average {load[0]:.1f} / {load[1]:.1f} ({os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
