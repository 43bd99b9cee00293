// Words for the ids the API answers with (geocode kinds and precision, incident history actions, area
// changes, incident sources): the page's own dictionary, used when the API gives no localized name.

import { addStrings, lang, t } from "./common.js";

addStrings({
  zh: {
    "kind.address": "门牌地址", "kind.poi": "地点", "kind.building": "建筑", "kind.street": "道路",
    "kind.station": "驿站", "kind.station_address": "驿站地址", "kind.facility": "设施", "kind.grid": "网格",
    "kind.community": "社区", "kind.district": "区", "kind.place": "地名",
    "place.city": "城市", "place.town": "镇", "place.village": "村", "place.hamlet": "自然村",
    "place.suburb": "片区", "place.quarter": "街区", "place.neighbourhood": "街坊", "place.city_block": "街块",
    "place.square": "广场", "place.island": "岛", "place.islet": "小岛", "place.locality": "地名",
    "place.borough": "区", "place.county": "县", "place.state": "省", "place.region": "地区",
    "place.province": "省", "place.district": "区", "place.municipality": "市", "place.country": "国家",
    "place.farm": "农场", "place.plot": "地块", "place.isolated_dwelling": "独立住宅",
    "precision.house_number": "门牌号", "precision.building": "建筑", "precision.poi": "地点",
    "precision.street": "道路（不够精确）", "precision.area": "区域（不够精确）", "precision.city": "城市（不够精确）",
    "source.hotline": "12345 热线", "source.patrol": "网格员巡查", "source.open311": "Open311", "source.import": "批量导入",
    "source.api": "调度台", "source.demo": "演示数据",
  },
  en: {
    "kind.address": "address", "kind.poi": "place", "kind.building": "building", "kind.street": "street",
    "kind.station": "rest station", "kind.station_address": "station address", "kind.facility": "facility",
    "kind.grid": "grid", "kind.community": "community", "kind.district": "district", "kind.place": "place",
    "place.city": "city", "place.town": "town", "place.village": "village", "place.hamlet": "hamlet",
    "place.suburb": "suburb", "place.quarter": "quarter", "place.neighbourhood": "neighbourhood",
    "place.city_block": "city block", "place.square": "square", "place.island": "island", "place.islet": "islet",
    "place.locality": "locality", "place.borough": "borough", "place.county": "county", "place.state": "state",
    "place.region": "region", "place.province": "province", "place.district": "district",
    "place.municipality": "municipality", "place.country": "country", "place.farm": "farm", "place.plot": "plot",
    "place.isolated_dwelling": "isolated dwelling",
    "precision.house_number": "house number", "precision.building": "building", "precision.poi": "place",
    "precision.street": "street (not precise)", "precision.area": "area (not precise)", "precision.city": "city (not precise)",
    "source.hotline": "12345 hotline", "source.patrol": "patrol", "source.open311": "Open311", "source.import": "import",
    "source.api": "dispatch desk", "source.demo": "demo data",
  },
});

const known = (key) => t(key) !== key;

/** A geocode candidate's kind in the page language: the API's `kind_name` when it gave one, else ours. */
export function kindLabel(kind, kindName = null) {
  if (kindName && (lang !== "zh" || /[\u4e00-\u9fff]/.test(kindName))) return kindName;
  const id = String(kind || "");
  if (id.startsWith("place:")) {
    const sub = `place.${id.slice(6)}`;
    return known(sub) ? t(sub) : t("kind.place");
  }
  return known(`kind.${id}`) ? t(`kind.${id}`) : t("kind.place");
}

/** How precise a candidate is (house_number | building | poi | street | area | city), in words. */
export function precisionLabel(precision) {
  return precision && known(`precision.${precision}`) ? t(`precision.${precision}`) : "";
}

/** Precise enough to file an incident at by itself (the API's rule for address-only intake). */
export function isPrecise(precision) {
  return ["house_number", "building", "poi"].includes(precision);
}

/** Where an incident came from. */
export function sourceLabel(source) {
  return source && known(`source.${source}`) ? t(`source.${source}`) : source || "";
}
