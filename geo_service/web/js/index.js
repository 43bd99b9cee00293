import { addStrings, applyI18n, renderHeader } from "./common.js";

addStrings({
  zh: {
    "index.planner": "绘制、修改、拆分与合并网格边界，自动吸附相邻网格，实时校验；查看户数、人口与网格员配备。",
    "index.stations": "手机上找最近的、正在开放的暖心驿站，按步行时间排序，显示步行路线与设施。",
    "index.dispatch": "12345 事件队列：输入地址或点击地图定位，自动分派到网格与网格员，按流程流转。",
    "index.circles": "5/10/15 分钟步行等时圈，社区生活圈覆盖率与缺口。",
    "index.worker": "网格员手机巡查：拍照上报发现的问题（无网络时先存、联网后自动补发），处理本网格待办，巡查驿站。",
    "index.dashboard": "领导驾驶舱：选定区域和时段，看上报、受理、转办、办结与按时办结，小事不出网格，超期与上报，网格着色，人员配备；可下载和打印。",
    "index.more": "其他：",
  },
  en: {
    "index.planner": "Draw, reshape, split and merge grid boundaries with snapping to neighbours and live checks; households, population and staffing.",
    "index.stations": "On a phone: the nearest open rest stations by walking time, with the walking route and amenities.",
    "index.dispatch": "The 12345 incident queue: type an address or click the map, see the assigned grid and worker, move it through the loop.",
    "index.circles": "5/10/15-minute walking isochrones, life-circle coverage by community, and the gaps.",
    "index.worker": "The grid worker's phone: report what you find on patrol with a photo (kept while offline, sent when back), handle your grid's cases, inspect rest stations.",
    "index.dashboard": "The leaders' dashboard: for an area and period, reported, accepted, transferred, completed and on time; where cases were settled; overdue and escalated; grids coloured; staffing. Download and print.",
    "index.more": "Also:",
  },
});
renderHeader("home");
applyI18n();
