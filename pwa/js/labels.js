// Words the phone shows for outbox entries, in the page's language (Chinese unless the page is English), and
// the small page facts every module reads.

export const english = () => document.documentElement.lang === 'en';
export const t = (zh, en) => (english() ? en : zh);

/** The sessionStorage key of "saved on this phone" shown on the page a save leads to. */
export const FLASH = 'suifang-flash';

/** When the page was kept on the phone, if it came from there (the service worker stamps it). */
export const keptAt = () => document.querySelector('meta[name="kept-at"]')?.content || null;

/** The service's date now (YYYY-MM-DD), told on the phone: its clock corrected by the server's at the last
    sync, read in the service's zone (see `wallClock`). */
export async function serviceToday() {
  const offset = (await globalThis.suifang.outbox.getMeta('clock_offset_ms')) || 0;
  const [y, mo, d] = wallClock(new Date(Date.now() + offset));
  const pad = (n) => String(n).padStart(2, '0');
  return `${y}-${pad(mo)}-${pad(d)}`;
}

const KINDS = {
  register: ['登记孕产妇', 'Registration'],
  visit: ['产前随访', 'Prenatal visit'],
  risk: ['风险分级', 'Risk grade'],
  outcome: ['妊娠结局', 'Outcome'],
  postnatal: ['产后访视', 'Postnatal visit'],
  close: ['转村或结案', 'Transfer or close'],
  correct: ['更正或作废', 'Correction'],
  edit_registration: ['修改登记信息', 'Registration edit'],
  discard: ['放弃记录', 'Discarded entry'],
};
const VISIT_KINDS = {
  home: ['入户访视', 'Home visit'], township: ['乡级访视', 'Township visit'],
  check: ['产前检查', 'Standard check'], phone: ['电话随访', 'Phone follow-up'], urged: ['督促产检', 'Urged'],
};
const OUTCOMES = {
  live_birth: ['活产', 'Live birth'], stillbirth: ['死胎死产', 'Stillbirth'],
  spontaneous_abortion: ['自然流产', 'Miscarriage'], induced_abortion: ['人工流产', 'Induced abortion'],
  termination: ['中期引产', 'Termination'], ectopic: ['异位妊娠', 'Ectopic'], molar: ['葡萄胎', 'Molar'],
  maternal_death: ['孕产妇死亡', 'Maternal death'],
};
const MILESTONES = {
  '1w': ['1周', '1 week'], '2w': ['2周', '2 weeks'], '1m': ['满月', '1 month'], '3m': ['3个月', '3 months'],
  '6m': ['6个月', '6 months'], '12m': ['12个月', '12 months'], '42d': ['产后42天', '42 days'],
  loss: ['流产后关怀', 'Care after loss'], extra: ['其他访视', 'Extra visit'],
};
const COLOURS = {
  green: ['绿色', 'Green'], yellow: ['黄色', 'Yellow'], orange: ['橙色', 'Orange'], red: ['红色', 'Red'],
};
const pick = (table, key) => (table[key] ? t(...table[key]) : key || '');

export const kindLabel = (kind) => pick(KINDS, kind);

/** What an entry records, in a few words: "产前随访 · 入户访视". */
export function entrySummary(entry) {
  const d = entry.data || {};
  const detail = {
    visit: () => pick(VISIT_KINDS, d.kind) + (d.check_no ? ` ${d.check_no}` : ''),
    outcome: () => pick(OUTCOMES, d.outcome_type),
    postnatal: () => pick(MILESTONES, d.milestone),
    risk: () => pick(COLOURS, d.colour),
    register: () => (d.edd ? `${t('预产期', 'EDD')} ${formatDate(d.edd)}` : ''),
  }[entry.kind];
  const extra = detail ? detail() : '';
  return extra ? `${kindLabel(entry.kind)} · ${extra}` : kindLabel(entry.kind);
}

/** The date an entry is about (the visit date, the outcome date…). */
export function entryDate(entry) {
  const d = entry.data || {};
  return d.visited_on || d.outcome_on || d.assessed_on || d.closed_on || d.registered_on || '';
}

/** 2026-11-23 → 2026年11月23日 / 23 Nov 2026. */
export function formatDate(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || '');
  if (!m) return iso || '';
  const [, y, mo, d] = m;
  if (!english()) return `${Number(y)}年${Number(mo)}月${Number(d)}日`;
  const month = new Date(Date.UTC(2000, Number(mo) - 1, 1)).toLocaleString('en', { month: 'short', timeZone: 'UTC' });
  return `${Number(d)} ${month} ${y}`;
}

/** The service zone's offset from UTC in minutes, as the last sync told it (kept where pages read it at once),
    else as the page itself says (`<meta name="utc-offset">`, written by the server); null in the worker before
    any sync. */
const ZONE_KEY = 'suifang-utc-offset-min'; // sync.js keeps it there at every sync
function serviceZone() {
  let kept = null;
  try { kept = globalThis.localStorage?.getItem(ZONE_KEY) ?? null; } catch { /* storage refused */ }
  if (kept === null) kept = globalThis.document?.querySelector('meta[name="utc-offset"]')?.content ?? null;
  if (kept === null || kept === '') return null;
  const zone = Number(kept);
  return Number.isNaN(zone) ? null : zone;
}

/** Year, month, day, hour and minute of a moment in the service's zone (Asia/Shanghai), not the phone's: a
    phone set to UTC still turns the day at midnight in China. The phone's own zone before any sync. */
function wallClock(when) {
  const zone = serviceZone();
  if (zone === null || Number.isNaN(zone)) {
    return [when.getFullYear(), when.getMonth() + 1, when.getDate(), when.getHours(), when.getMinutes()];
  }
  const s = new Date(when.getTime() + zone * 60000);
  return [s.getUTCFullYear(), s.getUTCMonth() + 1, s.getUTCDate(), s.getUTCHours(), s.getUTCMinutes()];
}

/** A moment as 今天 14:05 / 11月22日 14:05 (English: today 14:05 / 22 Nov 14:05), on the service's clock: a
    phone set to another zone shows the times its supervisor sees. */
export function formatMoment(iso) {
  if (!iso) return '';
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return '';
  const [y, mo, d, h, mi] = wallClock(when);
  const [ty, tmo, td] = wallClock(new Date());
  const hm = `${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}`;
  if (y === ty && mo === tmo && d === td) return `${t('今天', 'today')} ${hm}`;
  const day = english()
    ? `${d} ${new Date(Date.UTC(2000, mo - 1, 1)).toLocaleString('en', { month: 'short', timeZone: 'UTC' })}`
    : `${mo}月${d}日`;
  return `${day} ${hm}`;
}

/** Make an element with text (never HTML: names come from what users typed). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}
