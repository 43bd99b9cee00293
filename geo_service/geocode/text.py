"""Text matching for the geocoder: normalisation, index keys, pinyin, character bigrams, house numbers.

Normalisation (:func:`fold`) makes two spellings of one name equal before anything is compared: full-width →
half-width (NFKC), traditional → simplified Chinese (OpenCC ``t2s``, phrase-aware), case and accents folded,
Chinese numerals before a counter as digits (``十二号`` → ``12号``), Chinese text without spaces. The index key
(:func:`name_key`) is the folded text without punctuation: ``赫爾辛基中央車站`` and ``赫尔辛基 中央车站`` share
the key ``赫尔辛基中央车站``; ``Mannerheimintie 5`` has ``mannerheimintie5``. Chinese names also get a pinyin key
and an initials key (:func:`pinyin_keys`, pypinyin), which Latin-script queries are compared with
(``zhongshanlu12hao``, ``zsl12h``).

Why not trigrams alone: in a ``C.UTF-8`` database pg_trgm treats a run of Chinese characters as one word, so a
short address such as ``中山路12号`` has only 7 trigrams, two of them padding; ``similarity('中山路12号',
'中山路21号')`` is 0.27 and ``word_similarity('中山路', '北京市中山路12号')`` 0.25. Chinese addresses are
compared better by character bigrams (Dice), by containment (a name inside the query or the query inside a
name), and by whether the house numbers agree (:func:`match_score`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Any

# opencc and pypinyin load their dictionaries at import (~2 s together on a busy core): imported on the first
# Chinese text, so a process that never meets one (an import of a European extract) does not pay

_DROP = re.compile(r"[\s\W_]+", re.UNICODE)
_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
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
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
# Chinese numerals are turned into digits only in front of these counters, where they are house, building,
# unit or room numbers (after t2s, so only simplified counters)
# (not 巷: 朝霞三巷 is a lane's name, and callers say its numeral as written)
_CN_NUMBER = re.compile(r"([零〇一二两三四五六七八九十百千]+)(?=号|弄|栋|幢|楼|室|单元|座|层|户|期)")
# dashes between numbers (12-3号, 12—3号, 12～3号) are kept as one hyphen, every other punctuation goes
_DASH = re.compile(r"(?<=\d)\s*[-‐‑‒–—―~～]\s*(?=\d)")
_KEY_DROP = re.compile(r"[^\w-]|_|(?<!\d)-|-(?!\d)")


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


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
        elif ch in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[ch]
            current = 0
        else:
            return None
    return total + current


def _cn_house_numbers(text: str) -> str:
    def number(m: re.Match[str]) -> str:
        value = _cn_to_int(m.group(1))
        return m.group(1) if value is None else str(value)

    return _CN_NUMBER.sub(number, text)


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC ``t2s``); other text unchanged."""
    return _t2s().convert(text) if has_cjk(text) else text


def fold(text: str, numerals: bool = True) -> str:
    """Full-width → half-width, traditional → simplified, case and accents folded, Chinese numerals before a
    counter as digits (unless not ``numerals``), spaces collapsed (dropped in Chinese text)."""
    text = unicodedata.normalize("NFKC", text or "")
    text = to_simplified(text)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = unicodedata.normalize("NFC", text).casefold().strip()
    text = _DASH.sub("-", _SPACES.sub("" if has_cjk(text) else " ", text))
    return _cn_house_numbers(text) if numerals else text


normalize = fold  # the name the ranking code has always used


def key_of(folded: str) -> str:
    """A folded text as an index key: letters, digits and Chinese only (a hyphen between digits stays)."""
    return _KEY_DROP.sub("", folded)


def name_key(text: str) -> str:
    """The index key of a raw text: ``赫爾辛基 中央車站`` → ``赫尔辛基中央车站``."""
    return key_of(fold(text))


def search_text(query: str) -> str:
    """The form of a query sent to pg_trgm over raw names: full-width folded, Chinese house numbers as digits,
    and for Chinese text no spaces (``中山路 十二 号`` → ``中山路12号``). Case and accents stay: pg_trgm folds
    case itself and does not fold accents."""
    text = unicodedata.normalize("NFKC", query or "").strip()
    return _cn_house_numbers(_SPACES.sub("" if has_cjk(text) else " ", text))


@lru_cache(maxsize=200_000)
def _syllables(run: str) -> tuple[str, ...]:
    """Toneless pinyin of one run of Chinese characters, phrase-aware (重庆 → chong qing)."""
    from pypinyin import Style, lazy_pinyin

    return tuple(lazy_pinyin(run, style=Style.NORMAL, errors="ignore"))


def pinyin_keys(key: str) -> tuple[str | None, str | None]:
    """(full pinyin, initials) of an index key with Chinese in it, digits and letters kept:
    ``中山路12号`` → (``zhongshanlu12hao``, ``zsl12h``); (None, None) without Chinese."""
    if not has_cjk(key):
        return None, None
    full: list[str] = []
    initials: list[str] = []
    position = 0
    for run in _CJK_RUN.finditer(key):
        between = key[position : run.start()]
        full.append(between)
        initials.append(between)
        syllables = _syllables(run.group())
        full.extend(syllables)
        initials.extend(s[0] for s in syllables if s)
        position = run.end()
    full.append(key[position:])
    initials.append(key[position:])
    return "".join(full), "".join(initials)


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
    return key_score(key_of(fold(query)), key_of(fold(name)), trigram)


def key_score(cq: str, cn: str, trigram: float = 0.0) -> float:
    """:func:`match_score` of two index keys."""
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
    numbers_q, numbers_n = house_numbers(cq), house_numbers(cn)
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
