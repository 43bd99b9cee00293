"""Text matching for the geocoder: normalisation, character bigrams, house numbers.

Why not trigrams alone: in a ``C.UTF-8`` database pg_trgm treats a run of Chinese characters as one word, so a
short address such as ``中山路12号`` has only 7 trigrams, two of them padding; ``similarity('中山路12号',
'中山路21号')`` is 0.27 and ``word_similarity('中山路', '北京市中山路12号')`` 0.25. Chinese addresses are
compared better by character bigrams (Dice), by containment (a name inside the query or the query inside a
name), and by whether the house numbers agree. pg_trgm still finds the candidates (indexed); this module ranks them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_DROP = re.compile(r"[\s\W_]+", re.UNICODE)
_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
# Chinese numerals are turned into digits only in front of these counters, where they are house numbers
_CN_NUMBER = re.compile(r"([零〇一二两三四五六七八九十百]+)(?=[号弄栋幢楼室单元巷座])")


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def _cn_to_int(numeral: str) -> int | None:
    """``十二`` → 12, ``一百零五`` → 105, ``二三`` → 23 (digit by digit); None when it is not a number."""
    if all(ch in _CN_DIGITS for ch in numeral):
        return int("".join(str(_CN_DIGITS[ch]) for ch in numeral))
    total, current = 0, 0
    for ch in numeral:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def _cn_house_numbers(text: str) -> str:
    return _CN_NUMBER.sub(lambda m: str(_cn_to_int(m.group(1)) or m.group(1)), text)


def normalize(text: str) -> str:
    """Lower case, full-width → half-width, accents dropped, Chinese house numbers as digits, spaces collapsed
    (dropped in Chinese text)."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = unicodedata.normalize("NFC", text).casefold().strip()
    return _cn_house_numbers(_SPACES.sub("" if has_cjk(text) else " ", text))


def search_text(query: str) -> str:
    """The form of a query sent to pg_trgm: full-width folded and Chinese house numbers as digits, and for
    Chinese text no spaces (``中山路 十二 号`` → ``中山路12号``), so the trigram and substring filters can find
    the names as stored. Case and accents stay: pg_trgm folds case itself and does not fold accents."""
    text = unicodedata.normalize("NFKC", query or "").strip()
    return _cn_house_numbers(_SPACES.sub("" if has_cjk(text) else " ", text))


def compact(normalized: str) -> str:
    """``normalized`` without spaces and punctuation: what bigrams and containment compare."""
    return _DROP.sub("", normalized)


def bigrams(compacted: str) -> Counter[str]:
    if len(compacted) < 2:
        return Counter([compacted]) if compacted else Counter()
    return Counter(compacted[i : i + 2] for i in range(len(compacted) - 1))


def dice(a: str, b: str) -> float:
    """Dice coefficient of the character-bigram multisets of two compacted strings, 0..1."""
    ga, gb = bigrams(a), bigrams(b)
    total = sum(ga.values()) + sum(gb.values())
    return 2.0 * sum((ga & gb).values()) / total if total else 0.0


def house_numbers(normalized: str) -> list[str]:
    return _NUMBER.findall(normalized)


def street_part(compacted: str) -> str:
    """What comes before the house number: ``中山北路`` of ``中山北路12号``, ``mannerheimintie`` of ``…5``."""
    found = _NUMBER.search(compacted)
    return compacted[: found.start()] if found else compacted


def match_score(query: str, name: str, trigram: float = 0.0) -> float:
    """How well ``name`` answers ``query``, 0..1 (1 = the same text after normalisation).

    Parameters
    ----------
    query, name
        Raw texts.
    trigram
        pg_trgm's best of similarity / word_similarity, computed in the database; kept as a floor for Latin
        text where trigrams work well.
    """
    nq, nn = normalize(query), normalize(name)
    cq, cn = compact(nq), compact(nn)
    if not cq or not cn:
        return 0.0
    if cq == cn:
        return 1.0
    score = max(dice(cq, cn), trigram)
    if cq in cn or cn in cq:
        # containment: the shorter one's share of the longer decides how much is left unexplained
        coverage = min(len(cq), len(cn)) / max(len(cq), len(cn))
        score = max(score, 0.5 + 0.4 * coverage)
        if cn.startswith(cq):
            score += 0.03
    numbers_q, numbers_n = house_numbers(nq), house_numbers(nn)
    street_q, street_n = street_part(cq), street_part(cn)
    same_street = (
        street_q.endswith(street_n) or street_n.endswith(street_q) or dice(street_q, street_n) >= 0.85
    )
    if numbers_q and numbers_n and not same_street:
        score *= 0.7  # 中山北路 is another road than 中山路, however alike (a city in front, a typo are fine)
    if numbers_q:
        if not numbers_n:
            score *= 0.85  # a street or place for a query with a house number: right area, less exact
        elif numbers_q[0] == numbers_n[0]:
            score += 0.05
        elif set(numbers_q) & set(numbers_n):
            score += 0.02  # 22 answering "22-24"
        else:
            score *= 0.6  # another house on the same street
    elif numbers_n and cq in cn:
        score *= 0.95  # the query named a street, this is one house on it
    return round(min(score, 0.99), 4)
