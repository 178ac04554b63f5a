// Shows what the outbox holds on the pages the server drew: 待同步 entries on Today (an item done offline leaves
// its list), on the case page and in the women list; the case page of a pregnancy registered offline; the case
// strip of its forms. On a page shown from the phone's copy, entries synced since it was kept show as 已同步.
import { t, el, keptAt, entrySummary, entryDate, formatDate, serviceToday } from './labels.js';

const { outbox } = globalThis.suifang;
const PLACEHOLDER = '00000000-0000-0000-0000-000000000000';
const PRENATAL = ['village', 'township', 'check1', 'check2', 'check3', 'check4', 'check5', 'outcome'];

/** The due items an entry closes: [{pregnancy, infant ('' = the mother, null = everyone), kinds (null = all),
    cancels}] — a visit does the first open item of its kind; an outcome or a closure cancels what is open. */
export function itemsClosedBy(entry) {
  const d = entry.data || {};
  const pregnancy = d.pregnancy_id;
  if (entry.kind === 'visit') {
    const kind = { home: 'village', township: 'township' }[d.kind]
      || (d.kind === 'check' && d.check_no ? `check${d.check_no}` : null);
    return kind ? [{ pregnancy, infant: '', kinds: [kind] }] : [];
  }
  if (entry.kind === 'outcome') {
    return [{ pregnancy, infant: '', kinds: ['outcome'] },
      { pregnancy, infant: '', kinds: PRENATAL.filter((k) => k !== 'outcome'), cancels: true }];
  }
  if (entry.kind === 'postnatal') {
    const out = [];
    const mother = { '1w': 'mother_1w', '42d': 'mother_42d', loss: 'loss_care' }[d.milestone];
    if (d.covers_mother && mother) out.push({ pregnancy, infant: '', kinds: [mother] });
    if (d.infant_id && ['1w', '2w', '1m', '3m', '6m', '12m'].includes(d.milestone)) {
      out.push({ pregnancy, infant: d.infant_id, kinds: [`infant_${d.milestone}`] });
    }
    return out;
  }
  if (entry.kind === 'close') return [{ pregnancy, infant: d.infant_id || null, kinds: null, cancels: true }];
  return [];
}

const covers = (spec, pregnancy, infant, kind) => spec.pregnancy === pregnancy
  && (spec.infant === null || spec.infant === infant) && (spec.kinds === null || spec.kinds.includes(kind));


function tag(entry) {
  if (entry.synced) return el('span', { class: 'pending-tag synced-tag', text: t('已同步', 'Synced') });
  if (entry.status === 'rejected') return el('span', { class: 'rejected-tag', text: t('被退回', 'Sent back') });
  return el('span', { class: 'pending-tag', text: t('待同步', 'Pending') });
}

function entryItem(entry, extra = '') {
  const woman = entry.subject && entry.subject.woman_id;
  const when = [formatDate(entryDate(entry)), extra].filter(Boolean).join(' · ');
  return el('li', { class: `item pending-entry js-pending${entry.status === 'rejected' ? ' rejected' : ''}`, 'data-op': entry.op_id },
    el('a', { href: woman ? `/women/${woman}` : '/pending' },
      el('span', { class: 'who' }, `${(entry.subject && entry.subject.name) || ''} `, tag(entry)),
      el('span', { class: 'what', text: entrySummary(entry) }),
      el('span', { class: 'when', text: when })));
}

/** Entries to show: this user's outbox, and on a page kept before they synced, those synced since. */
async function entriesFor(user) {
  const waiting = (await outbox.forUser(user)).filter((e) => !e.internal);
  const kept = keptAt();
  if (!kept) return waiting;
  const synced = ((await outbox.getMeta(`synced:${user}`)) || []).filter((e) => e.at > kept)
    .map((e) => ({ ...e, synced: true }));
  return [...waiting, ...synced];
}

/** The items each entry does (the first open one of its kind, in date order) or cancels (all of them). */
function itemsTakenBy(entries, rows, where) {
  const taken = new Map();
  const used = new Set();
  for (const entry of entries) {
    for (const spec of itemsClosedBy(entry)) {
      const matching = rows.filter((row) => !used.has(row) && covers(spec, ...where(row)));
      for (const row of spec.cancels ? matching : matching.slice(0, 1)) {
        used.add(row);
        taken.set(row, { entry, cancels: Boolean(spec.cancels) });
      }
    }
  }
  return taken;
}

function overlayToday(entries) {
  const items = [...document.querySelectorAll('li.item[data-pregnancy]')];
  const taken = itemsTakenBy(entries, items,
    (li) => [li.dataset.pregnancy, li.dataset.infant || '', li.dataset.itemKind]);
  const done = new Map();
  for (const li of items) {
    const hit = taken.get(li);
    li.hidden = Boolean(hit);
    if (hit) done.set(hit.entry.op_id, [...(done.get(hit.entry.op_id) || []), li]);
  }
  for (const section of document.querySelectorAll('section.list-section')) {
    const count = section.querySelector('h2 .count');
    // Lines not listed (a supervisor's long sections) still count.
    const notListed = Number(section.dataset.more || 0);
    if (count) count.textContent = section.querySelectorAll('li.item:not([hidden])').length + notListed;
  }
  const badge = document.getElementById('overdue-badge');
  if (badge) {
    badge.dataset.server = badge.dataset.server || badge.textContent.trim();
    const left = document.querySelectorAll('#overdue li.item:not([hidden])').length
      + Number(document.getElementById('overdue')?.dataset.more || 0);
    badge.textContent = document.getElementById('overdue') ? left : badge.dataset.server;
    badge.classList.toggle('zero', badge.textContent === '0');
  }
  const box = document.getElementById('pending-list');
  if (!box) return;
  box.replaceChildren();
  box.hidden = entries.length === 0;
  if (!entries.length) return;
  const what = (li) => li.querySelector('.what')?.textContent.trim();
  const list = el('ul', { class: 'items' }, ...entries.map((entry) => entryItem(entry,
    (done.get(entry.op_id) || []).map((li) => `${t('完成', 'done')}: ${what(li)}`).join(t('，', ', ')))));
  box.append(
    el('h2', {}, `${t('待同步', 'Waiting to sync')} `, el('span', { class: 'count', text: String(entries.length) })),
    list,
    el('p', {}, el('a', { href: '/pending', text: t('查看、修改或导出待同步记录', 'See, correct or export pending entries') })));
}

function casePregnancy() {
  const link = document.querySelector('main a[href^="/p/"]');
  return link ? link.getAttribute('href').split('/')[2] : null;
}

const OPEN = ['st-overdue', 'st-due', 'st-upcoming'];

/** The case page's schedule: the item each entry does (the first open one of its kind) or cancels. */
function markSchedule(mine, pregnancy) {
  const rows = [...document.querySelectorAll('.schedule li[data-item-kind]')];
  for (const li of rows) {
    const state = li.querySelector('.state');
    if (!state) continue;
    state.dataset.server = state.dataset.server ?? state.textContent;
    state.textContent = state.dataset.server;
    li.classList.remove('st-pending');
  }
  const open = rows.filter((li) => OPEN.some((c) => li.classList.contains(c)) && li.querySelector('.state'));
  const taken = itemsTakenBy(mine, open,
    (li) => [pregnancy, li.closest('[data-infant]')?.dataset.infant || '', li.dataset.itemKind]);
  for (const [li, { entry, cancels }] of taken) {
    li.classList.add('st-pending');
    li.querySelector('.state').textContent = cancels
      ? (entry.synced ? t('已取消（已同步）', 'Cancelled (synced)') : t('将取消（待同步）', 'Cancelled once synced'))
      : (entry.synced ? t('已完成（已同步）', 'Done (synced)') : t('已完成（待同步）', 'Done (waiting to sync)'));
  }
}

function overlayCase(entries, womanId) {
  document.getElementById('case-pending')?.remove();
  const mine = entries.filter((e) => e.subject && e.subject.woman_id === womanId);
  const pregnancy = casePregnancy() || (mine.find((e) => e.data.pregnancy_id) || {}).data?.pregnancy_id;
  markSchedule(mine, pregnancy);
  if (!mine.length) return;
  const card = el('section', { class: 'card pending', id: 'case-pending' },
    el('h2', {}, `${t('本机记录', 'Recorded on this phone')} `, el('span', { class: 'count', text: String(mine.length) })),
    el('ul', { class: 'items' }, ...mine.map((e) => entryItem(e))));
  const outcome = mine.find((e) => e.kind === 'outcome' && e.data.outcome_type === 'live_birth');
  if (outcome && !document.querySelector(`main a[href^="/p/${pregnancy}/postnatal"]`)) {
    card.append(el('p', {}, el('a', { class: 'button primary', href: `/p/${pregnancy}/postnatal`, text: t('产后访视', 'Postnatal visit') })));
  }
  card.append(el('p', {}, el('a', { href: '/pending', text: t('查看、修改或导出待同步记录', 'See, correct or export pending entries') })));
  const head = document.querySelector('.case-head');
  if (head) head.after(card);
  else document.getElementById('main').prepend(card);
}

function overlayWomen(entries) {
  const list = document.getElementById('women-list');
  if (!list) return;
  list.querySelectorAll('.js-pending').forEach((li) => li.remove());
  const registered = entries.filter((e) => e.kind === 'register' && e.data.woman_id
    && !list.querySelector(`li[data-woman="${e.data.woman_id}"]`));
  for (const entry of registered.reverse()) list.prepend(entryItem(entry));
  const q = new URLSearchParams(location.search).get('q');
  if (keptAt() && q) {
    // The phone's copy is the whole list: search it here.
    for (const li of list.querySelectorAll('li.item')) li.hidden = !li.textContent.includes(q.trim());
  }
}

function gestation(lmp, on) {
  const days = Math.floor((Date.parse(on) - Date.parse(lmp)) / 86400000);
  if (!(days >= 0 && days < 320)) return '';
  return t(`孕${Math.floor(days / 7)}+${days % 7}周`, `${Math.floor(days / 7)}+${days % 7} weeks`);
}

function addDays(iso, n) {
  return new Date(Date.parse(iso) + n * 86400000).toISOString().slice(0, 10);
}

/** The case page of a pregnancy registered on this phone, drawn from its registration entry. */
async function renderPendingCase(entries, womanId) {
  const box = document.getElementById('pending-case');
  const registration = entries.filter((e) => e.kind === 'register' && e.data.woman_id === womanId).pop();
  if (!box || !registration) return;
  const d = registration.data;
  const pid = d.id;
  const edd = d.edd || (d.lmp ? addDays(d.lmp, 280) : '');
  const lmp = d.lmp || (d.edd ? addDays(d.edd, -280) : '');
  const today = await serviceToday();
  const mine = entries.filter((e) => e.subject && e.subject.woman_id === womanId);
  const outcome = mine.find((e) => e.kind === 'outcome');
  const fact = (dt, dd) => el('div', {}, el('dt', { text: dt }), el('dd', { text: dd }));
  const button = (href, text, primary) => el('a', { class: `button${primary ? ' primary' : ''}`, href, text });
  const actions = outcome
    ? [button(`/p/${pid}/postnatal`, t('产后访视', 'Postnatal visit'), true)]
    : [button(`/p/${pid}/visit`, t('记录访视', 'Record a visit'), true),
      button(`/p/${pid}/visit?kind=check`, t('记录产检', 'Standard check')),
      button(`/p/${pid}/risk`, t('风险分级', 'Risk grade')),
      button(`/p/${pid}/outcome`, t('登记结局', 'Record outcome'), true)];
  actions.push(button(`/p/${pid}/close?kind=transferred`, t('转村', 'Transfer')),
    button(`/p/${pid}/close`, t('结案', 'Close case')));
  box.replaceChildren(
    el('section', { class: 'card case-head', 'data-pregnancy': pid },
      el('h1', {}, `${d.name || ''} `, tag(registration)),
      el('p', { class: 'muted', text: t('这个个案登记在本机，还没有上传到服务器。', 'Registered on this phone; not on the server yet.') }),
      el('dl', { class: 'facts' },
        outcome ? null : fact(t('孕周', 'Gestation'), lmp ? gestation(lmp, today) : ''),
        fact(t('预产期', 'EDD'), formatDate(edd)),
        fact(t('登记', 'Registered'), formatDate(d.registered_on)),
        fact(t('孕次/产次', 'G/P'), `G${d.gravidity || ''} P${d.parity || ''}`))),
    el('section', { class: 'actions', 'aria-label': t('操作', 'Actions') }, ...actions),
    el('section', { class: 'card pending', id: 'case-pending' },
      el('h2', {}, `${t('本机记录', 'Recorded on this phone')} `, el('span', { class: 'count', text: String(mine.length) })),
      el('ul', { class: 'items' }, ...mine.map((e) => entryItem(e)))));
}

/** The entry on this phone that tells who a pregnancy is: her registration made here, else the latest entry
    about a case the server knows (an outcome waiting, say). None: the case is not on this phone. */
export function entryOfCase(entries, pregnancyId) {
  return entries.filter((e) => e.kind === 'register' && e.data.id === pregnancyId).pop()
    || entries.filter((e) => e.data.pregnancy_id === pregnancyId && e.subject && e.subject.woman_id).pop()
    || null;
}

/** Whether the phone knows this pregnancy from its own entries, waiting or synced: a form drawn from the
    shell (no kept copy of the case's own form) is only for such a case. */
export async function caseOnPhone(user, pregnancyId) {
  const waiting = (await outbox.forUser(user)).filter((e) => !e.internal);
  const synced = (await outbox.getMeta(`synced:${user}`)) || [];
  return entryOfCase([...waiting, ...synced], pregnancyId) !== null;
}

/** The case strip of a form drawn for a pregnancy the server does not know yet. */
function fillStrip(entries) {
  const strip = document.querySelector(`.case-strip a[href="/women/${PLACEHOLDER}"]`)?.closest('.case-strip');
  if (!strip) return;
  const [, , pregnancyId] = location.pathname.split('/');
  const entry = entryOfCase(entries, pregnancyId);
  if (entry?.kind === 'register') {
    const d = entry.data;
    const edd = d.edd || (d.lmp ? addDays(d.lmp, 280) : '');
    strip.replaceChildren(el('a', { href: `/women/${d.woman_id}`, text: d.name || '' }),
      `· ${t('预产期', 'EDD')} `, el('span', { class: 'date', text: formatDate(edd) }), ' ', tag(entry));
    return;
  }
  // A case the server knows, whose outcome waits on the phone: name it from that entry.
  strip.replaceChildren(entry
    ? el('a', { href: `/women/${entry.subject.woman_id}`, text: entry.subject.name || '' })
    : t('本机上没有这个个案的资料', 'This case is not on this phone'));
  if (entry) strip.append('· ', entrySummary(entry), ' ', tag(entry));
}

export async function showPending(user) {
  const entries = await entriesFor(user);
  const page = document.body.dataset.page;
  const path = location.pathname.split('/');
  if (page === 'today') overlayToday(entries);
  else if (page === 'women') overlayWomen(entries);
  else if (page === 'case') overlayCase(entries, path[2]);
  else if (page === 'pending-case') await renderPendingCase(entries, path[2]);
  fillStrip(entries);
}
