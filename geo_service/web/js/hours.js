// OpenStreetMap opening_hours → a sentence people read ("每天 20:00–次日 08:00", "周一至周五 09:00–17:30，
// 法定节假日休息", "全天开放"). Reads the forms stations use: 24/7, weekday ranges and lists, PH/SH, several
// time spans, spans past midnight, "off"/"closed". Anything else (months, weeks, comments, sunrise, ...) is
// returned as the raw text, unchanged, so nothing is ever shown wrongly.

const DAYS = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"];
const WORDS = {
  zh: {
    days: ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
    PH: "法定节假日",
    SH: "学校假期",
    everyDay: "每天",
    weekend: "周末",
    weekdays: "工作日",
    range: (a, b) => `${a}至${b}`,
    list: "、",
    spans: "、",
    rules: "，",
    allDay: "全天",
    always: "全天开放",
    closed: "休息",
    closedAlways: "暂停开放",
    nextDay: (time) => `次日 ${time}`,
    from: (time) => `${time} 起`,
    ruleClosed: (days) => `${days}休息`,
    rule: (days, times) => (days ? `${days} ${times}` : times),
  },
  en: {
    days: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    PH: "public holidays",
    SH: "school holidays",
    everyDay: "daily",
    weekend: "weekends",
    weekdays: "weekdays",
    range: (a, b) => `${a}–${b}`,
    list: ", ",
    spans: ", ",
    rules: "; ",
    allDay: "all day",
    always: "open 24/7",
    closed: "closed",
    closedAlways: "closed",
    nextDay: (time) => `${time} (next day)`,
    from: (time) => `from ${time}`,
    ruleClosed: (days) => `closed on ${days}`,
    rule: (days, times) => (days ? `${days} ${times}` : times),
  },
};

const TIME = /^([01]?\d|2[0-4]):([0-5]\d)$/;

function minutesOf(text) {
  const m = TIME.exec(text);
  if (!m) return null;
  const value = Number(m[1]) * 60 + Number(m[2]);
  return value > 24 * 60 ? null : value;
}

const clock = (text) => {
  const [h, m] = text.split(":");
  return `${h.padStart(2, "0")}:${m}`;
};

/** "Mo-Fr,Su,PH" → {days: Set of 0..6, holidays: ["PH"], order: [...]} or null when not a weekday selector. */
function parseDays(selector) {
  const days = new Set();
  const holidays = [];
  const pieces = [];
  for (const part of selector.split(",")) {
    if (part === "PH" || part === "SH") {
      holidays.push(part);
      pieces.push({ holiday: part });
      continue;
    }
    const range = /^(Mo|Tu|We|Th|Fr|Sa|Su)(?:-(Mo|Tu|We|Th|Fr|Sa|Su))?$/.exec(part);
    if (!range) return null;
    const a = DAYS.indexOf(range[1]);
    const b = range[2] ? DAYS.indexOf(range[2]) : a;
    const span = [];
    for (let k = a; ; k = (k + 1) % 7) {
      days.add(k);
      span.push(k);
      if (k === b) break;
    }
    pieces.push({ from: a, to: b, span });
  }
  return { days, holidays, pieces };
}

function describeDays(parsed, words) {
  const { days, pieces } = parsed;
  const weekdayText = () => {
    if (days.size === 7) return words.everyDay;
    const sorted = [...days].sort((x, y) => x - y);
    if (sorted.join() === "5,6") return words.weekend;
    if (sorted.join() === "0,1,2,3,4") return pieces.length === 1 ? words.range(words.days[0], words.days[4]) : words.weekdays;
    // as written: ranges stay ranges ("周一至周五、周日")
    return pieces
      .filter((p) => !p.holiday)
      .map((p) => (p.from === p.to ? words.days[p.from] : p.span.length === 2 ? `${words.days[p.from]}${words.list}${words.days[p.to]}` : words.range(words.days[p.from], words.days[p.to])))
      .join(words.list);
  };
  const out = [];
  if (days.size) out.push(weekdayText());
  for (const p of pieces) if (p.holiday) out.push(words[p.holiday]);
  return out.join(words.list);
}

/** "09:00-12:00,13:30-17:30" → the spans as text, or null when any span is not a plain time range. */
function describeTimes(selector, words) {
  const spans = [];
  for (const part of selector.split(",")) {
    const open = /^(\d{1,2}:\d{2})\+$/.exec(part);
    if (open && minutesOf(open[1]) !== null) {
      spans.push(words.from(clock(open[1])));
      continue;
    }
    const m = /^(\d{1,2}:\d{2})-(\d{1,2}:\d{2})$/.exec(part);
    if (!m) return null;
    const start = minutesOf(m[1]);
    const end = minutesOf(m[2]);
    if (start === null || end === null) {
      // "20:00-26:00" (hours past midnight) is valid OSM: end on the next day
      const late = /^(\d{1,2}):(\d{2})$/.exec(m[2]);
      if (start === null || !late || Number(late[1]) > 48) return null;
      const next = `${String(Number(late[1]) - 24).padStart(2, "0")}:${late[2]}`;
      spans.push(`${clock(m[1])}–${words.nextDay(next)}`);
      continue;
    }
    if (start === 0 && end === 24 * 60) spans.push(words.allDay);
    else if (end <= start && end !== 24 * 60) spans.push(`${clock(m[1])}–${words.nextDay(clock(m[2]))}`);
    else spans.push(`${clock(m[1])}–${clock(m[2])}`);
  }
  return spans.join(words.spans);
}

/** One rule ("Mo-Fr 09:00-17:30", "PH off", "Sa,Su 10:00-14:00 open") as text, or null if unreadable. */
function describeRule(rule, words) {
  const tidy = rule.trim().replace(/\s*,\s*/g, ",").replace(/(\d)\s*-\s*(\d)/g, "$1-$2");
  const tokens = tidy.split(/\s+/).filter(Boolean);
  if (!tokens.length) return null;
  if (tokens.length === 1 && tokens[0] === "24/7") return words.always;
  let modifier = null;
  if (["off", "closed", "open"].includes(tokens[tokens.length - 1])) modifier = tokens.pop();
  let days = null;
  if (tokens.length && /^(Mo|Tu|We|Th|Fr|Sa|Su|PH|SH)/.test(tokens[0])) {
    const parsed = parseDays(tokens.shift());
    if (!parsed) return null;
    days = describeDays(parsed, words);
  }
  if (tokens.length > 1) return null;
  if (modifier === "off" || modifier === "closed") {
    if (tokens.length) return null; // "Mo 10:00-12:00 off": a rare override, left to the raw text
    return days ? words.ruleClosed(days) : words.closedAlways;
  }
  if (!tokens.length) return days ? words.rule(days, words.allDay) : null;
  if (tokens[0] === "24/7") return days ? words.rule(days, words.allDay) : words.always;
  const times = describeTimes(tokens[0], words);
  if (times === null) return null;
  if (times === words.allDay && (!days || days === words.everyDay)) return words.always;
  return words.rule(days || words.everyDay, times);
}

/**
 * Opening hours as a sentence in `lang` ("zh" or "en"): {text, understood}. `understood` is false when the
 * formatter cannot read the value; `text` is then the raw value.
 */
export function describeOpeningHours(value, lang = "zh") {
  const raw = (value ?? "").trim();
  if (!raw) return { text: "", understood: false };
  const words = WORDS[lang === "en" ? "en" : "zh"];
  if (/["\[\]]|\bweek\b|sunrise|sunset|dawn|dusk|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b|\d{4}/.test(raw)) {
    return { text: raw, understood: false };
  }
  const rules = raw.split(/\s*(?:;|\|\|)\s*/).filter(Boolean);
  const texts = [];
  for (const rule of rules) {
    const text = describeRule(rule, words);
    if (text === null) return { text: raw, understood: false };
    texts.push(text);
  }
  return { text: texts.join(words.rules), understood: true };
}

/** Just the text of {@link describeOpeningHours}. */
export function formatOpeningHours(value, lang = "zh") {
  return describeOpeningHours(value, lang).text;
}
