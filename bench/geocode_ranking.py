"""How well the geocoder ranks short Chinese addresses, against pg_trgm's own ordering, on one database.

    .venv/bin/python bench/geocode_ranking.py

A synthetic gazetteer in a fresh database ``gs_bench_geocode``: 40 road names, each also with 北/南/东/西
variants (中山路, 中山北路, …: the look-alike roads a caller's address is confused with), house numbers 1–120
on each, and one entry per road — 24,000 addresses. Queries are addresses as callers and hotline operators
write them: exact, with the city and district in front, with Chinese numerals, without 号, with spaces.

A last row asks for house numbers the gazetteer lacks: the right first answer is then the road itself — not
another number on it, and not the same number on a look-alike road. Top-1 accuracy = the right entry first. Peers: ``ORDER BY similarity(name, q)`` and
``ORDER BY word_similarity(q, name)`` over the same pg_trgm-filtered candidates (what a pg_trgm-only
geocoder does); ours = :func:`geo_service.geocode.service.geocode` (trigram candidates, then bigrams,
containment and house numbers). Latency: median and 95th percentile over all queries, caches warm.
"""

from __future__ import annotations

import random
import statistics
import time

import psycopg2
from common import admin_dsn, bench_database, markdown_table

from geo_service.db.pool import Database
from geo_service.geocode.service import geocode

DB_NAME = "gs_bench_geocode"
ROOTS = ["中山", "人民", "解放", "建设", "和平", "胜利", "延安", "南京", "北京", "淮海", "长江", "黄河", "光明", "幸福",
         "文化", "新华", "朝阳", "东风", "青年", "友谊", "团结", "复兴", "花园", "工农", "民主", "健康", "环城",
         "滨江", "西湖", "天山", "昆仑", "泰山", "华山", "长安", "太平", "永安", "金陵", "望江", "桂林", "春风"]  # fmt: skip
DIRECTIONS = ["", "北", "南", "东", "西"]
NUMBERS = range(1, 121)
CN_DIGITS = "零一二三四五六七八九"
QUERIES_PER_VARIANT = 150


def chinese_number(n: int) -> str:
    """12 → 十二, 105 → 一百零五 (as written on 12345 tickets)."""
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = f"{CN_DIGITS[hundreds]}百" if hundreds else ""
    if tens:
        out += ("" if tens == 1 and not hundreds else CN_DIGITS[tens]) + "十"
    elif hundreds and ones:
        out += "零"
    return out + (CN_DIGITS[ones] if ones else "")


VARIANTS = {
    "exact": lambda road, n: f"{road}{n}号",
    "city and district in front": lambda road, n: f"上海市黄浦区{road}{n}号",
    "Chinese numerals": lambda road, n: f"{road}{chinese_number(n)}号",
    "without 号": lambda road, n: f"{road}{n}",
    "with spaces": lambda road, n: f"{road} {n} 号",
}
MISSING_NUMBERS = range(121, 151)  # house numbers the gazetteer lacks: the road itself is the right answer


def fresh_database() -> Database:
    admin = psycopg2.connect(admin_dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    admin.close()
    return bench_database(DB_NAME)


def load(db: Database, rng: random.Random) -> list[str]:
    roads = [f"{root}{direction}路" for root in ROOTS for direction in DIRECTIONS]
    rows = []
    for road in roads:
        lon0, lat0 = 121.40 + rng.random() * 0.1, 31.15 + rng.random() * 0.1
        rows.append(("street", road, lon0, lat0))
        rows += [("address", f"{road}{n}号", lon0 + n * 1e-4, lat0) for n in NUMBERS]
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO gazetteer (kind, name, geom) VALUES (%s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            rows,
        )
        cur.execute("ANALYZE gazetteer")
    return roads


def trigram_top(db: Database, query: str, order: str) -> str | None:
    """The first name pg_trgm alone would give (same candidate filter as the geocoder)."""
    with db.cursor() as cur:
        cur.execute("SELECT set_config('pg_trgm.similarity_threshold', '0.12', true)")
        cur.execute("SELECT set_config('pg_trgm.word_similarity_threshold', '0.35', true)")
        cur.execute(
            f"""SELECT name FROM gazetteer WHERE name %% %(q)s OR name %%> %(q)s OR name ILIKE %(p)s
                ORDER BY {order} DESC, length(name) LIMIT 1""",  # order: one of two fixed expressions
            {"q": query, "p": f"%{query}%"},
        )
        row = cur.fetchone()
    return None if row is None else row["name"]


def main() -> None:
    rng = random.Random(5)
    db = fresh_database()
    roads = load(db, rng)
    peers = {
        "pg_trgm similarity": "similarity(name, %(q)s)",
        "pg_trgm word_similarity": "word_similarity(%(q)s, name)",
    }
    for road in roads:  # warm the caches before timing
        geocode(db, f"{road}1号")
    results, times = [], []
    cases = [(label, make, NUMBERS, True) for label, make in VARIANTS.items()]
    cases.append(("number not in the gazetteer", VARIANTS["exact"], MISSING_NUMBERS, False))
    for label, make, numbers, present in cases:
        hits = {"ours": 0, **dict.fromkeys(peers, 0)}
        for _ in range(QUERIES_PER_VARIANT):
            road, number = rng.choice(roads), rng.choice(numbers)
            query, expected = make(road, number), f"{road}{number}号" if present else road
            start = time.perf_counter()
            candidates = geocode(db, query, limit=5)
            times.append(time.perf_counter() - start)
            hits["ours"] += bool(candidates) and candidates[0].name == expected
            for peer, order in peers.items():
                hits[peer] += trigram_top(db, query, order) == expected
        results.append([label, *(f"{hits[k] / QUERIES_PER_VARIANT:.0%}" for k in hits)])
    db.close()
    print(
        f"\n{len(roads)} roads, {len(roads) * len(NUMBERS):,} addresses; {QUERIES_PER_VARIANT} queries per row\n"
    )
    print(markdown_table(["query written", "ours", *peers], results))
    print(f"\nours: median {statistics.median(times) * 1000:.0f} ms, "
          f"95th percentile {statistics.quantiles(times, n=20)[-1] * 1000:.0f} ms per query")  # fmt: skip


if __name__ == "__main__":
    main()
