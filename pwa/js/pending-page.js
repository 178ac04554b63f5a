// The pending list (/pending, 待同步记录): every entry this phone holds for the signed-in user, with the
// server's message per field when it was sent back; correct (opens its form), discard, sync now, and export
// them all as a JSON file — the escape hatch when a phone cannot sync.
import { t, el, entrySummary, entryDate, formatDate, formatMoment, kindLabel } from './labels.js';

const { outbox, sync } = globalThis.suifang;

function announce(user) {
  new BroadcastChannel(sync.channelName).postMessage({ type: 'outbox-changed', user });
}

const FIELD_LABELS = JSON.parse(document.getElementById('field-labels')?.textContent || '{}');

/** A field as the forms name it: "bp_systolic" → 收缩压, "new-phone" → 手机号, "babies-1-sex" → 第2个婴儿：性别. */
function fieldLabel(name) {
  const field = name.replace(/^new-/, '');
  const baby = /^babies-(\d+)-(\w+)$/.exec(field);
  if (baby) {
    const n = Number(baby[1]) + 1;
    const inner = FIELD_LABELS[baby[2]] || baby[2];
    return t(`第${n}个婴儿：${inner}`, `Baby ${n}: ${inner}`);
  }
  return FIELD_LABELS[field] || field;
}

function errorList(entry) {
  const lang = document.documentElement.lang === 'en' ? 'en' : 'zh';
  const items = Object.entries(entry.errors || {}).map(([field, message]) =>
    el('li', {}, el('b', { text: field ? `${fieldLabel(field)}${t('：', ': ')}` : '' }),
      message[lang] || message.zh || String(message)));
  return items.length ? el('ul', { class: 'error' }, ...items) : null;
}

function details(entry) {
  const rows = Object.entries(entry.data || {}).filter(([, v]) => v !== '' && v !== null)
    .map(([k, v]) => el('div', {}, el('dt', { text: fieldLabel(k) }), el('dd', { text: typeof v === 'string' ? v : JSON.stringify(v) })));
  return el('details', {}, el('summary', { text: t('全部内容', 'Everything in it') }), el('dl', { class: 'facts' }, ...rows));
}

async function discard(user, entry, entries) {
  const held = outbox.held(entries);
  const dependants = entries.filter((e) => held.get(e.op_id) === entry.op_id);
  const question = dependants.length
    ? t(`放弃这条记录？依赖它的 ${dependants.length} 条记录也会一并放弃。`, `Discard this entry? The ${dependants.length} entries that depend on it are discarded too.`)
    : t('放弃这条记录？放弃后不会上传，也无法恢复。', 'Discard this entry? It will not be uploaded and cannot be recovered.');
  if (!window.confirm(question)) return;
  for (const gone of [entry, ...dependants]) {
    await outbox.remove(gone.op_id);
    if (gone.status === 'rejected') {
      // Tell the server the user gave it up, so it stops counting as sent back (PROTOCOL.md §3 `discard`).
      await outbox.add({
        op_id: crypto.randomUUID(), user_id: user, kind: 'discard', data: {}, replaces: gone.op_id,
        internal: true, subject: {}, recorded_at: sync.localIso(),
      });
    }
  }
  announce(user);
}

function stateOf(entry, held, sending) {
  if (entry.status === 'rejected') return el('span', { class: 'rejected-tag', text: t('被退回', 'Sent back') });
  if (held.has(entry.op_id)) return el('span', { class: 'pending-tag', text: t('等待修改被退回的登记', 'Waits for a sent-back entry') });
  if (entry.sent_at && sending) return el('span', { class: 'pending-tag', text: t('正在上传', 'Being sent') });
  if (entry.sent_at) {
    return el('span', { class: 'pending-tag', text: t('已发出，未收到答复，下次同步时确认', 'Sent, no answer yet: the next sync confirms it') });
  }
  return el('span', { class: 'pending-tag', text: t('待同步', 'Pending') });
}

async function render(user) {
  const saved = (await outbox.getMeta(`sync:${user}`)) || {};
  const last = document.getElementById('last-sync');
  if (last) {
    last.textContent = saved.lastSyncAt
      ? `${t('上次成功同步', 'Last successful sync')}: ${formatMoment(saved.lastSyncAt)}`
      : t('本机还没有成功同步过。', 'This phone has not synced yet.');
  }
  const list = document.getElementById('pending-entries');
  const entries = (await outbox.forUser(user)).filter((e) => !e.internal);
  const held = outbox.held(entries);
  const sending = await sync.running();
  if (!entries.length) {
    list.replaceChildren(el('li', { class: 'muted empty', text: t('没有待同步的记录。', 'Nothing waits to sync.') }));
    return;
  }
  list.replaceChildren(...entries.map((entry) => {
    const editable = !entry.sent_at && !held.has(entry.op_id);
    const correct = editable && entry.path && entry.kind !== 'discard'
      ? el('a', { class: 'button', href: `${entry.path}#entry=${entry.op_id}`, text: t('查看或修改', 'See or correct') }) : null;
    const drop = el('button', { class: 'button danger', type: 'button', text: t('放弃', 'Discard') });
    drop.disabled = Boolean(entry.sent_at);
    drop.addEventListener('click', () => discard(user, entry, entries).then(() => render(user)));
    return el('li', { class: `card${entry.status === 'rejected' ? ' rejected' : ''}`, 'data-op': entry.op_id },
      el('p', {}, el('b', { text: `${(entry.subject && entry.subject.name) || ''} ` }), stateOf(entry, held, sending)),
      el('p', { text: `${entrySummary(entry)} · ${formatDate(entryDate(entry))}` }),
      el('p', { class: 'muted', text: `${t('记录于', 'Recorded')} ${formatMoment(entry.recorded_at)}` }),
      errorList(entry), details(entry), el('p', {}, correct, ' ', drop));
  }));
}

/** The file holds names and ID numbers: like every export of a personal list it says why, and the server logs
    who and why (an `export_note` op, sent with the next sync — PROTOCOL.md §3); the rule and its words are the
    server's, on the button. */
async function exportEntries(user, button) {
  const { reasonMin, reasonMessage } = button.dataset;
  const asked = window.prompt(`${reasonMessage}${t('，例如“手机要维修，先备份”：', ', e.g. "phone going for repair, backup first":')}`);
  if (asked === null) return;
  const reason = asked.trim().replace(/\s+/g, ' ');
  if (reason.length < Number(reasonMin)) {
    window.alert(reasonMessage);
    return;
  }
  const entries = (await outbox.forUser(user)).filter((e) => !e.internal);
  const file = {
    format: 'suifang-pending', version: 1, exported_at: sync.localIso(), user_id: user,
    device_id: await outbox.deviceId(),
    entries: entries.map((e) => ({ ...e, kind_label: kindLabel(e.kind) })),
  };
  const blob = new Blob([JSON.stringify(file, null, 2)], { type: 'application/json' });
  const link = el('a', {
    href: URL.createObjectURL(blob),
    download: `suifang-pending-${sync.localIso().slice(0, 10)}.json`, // no name or ID in the file name
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  await outbox.add({
    op_id: crypto.randomUUID(), user_id: user, kind: 'export_note', data: { entries: entries.length, reason },
    internal: true, subject: {}, recorded_at: sync.localIso(),
  });
  announce(user);
}

async function showStorage() {
  const line = document.getElementById('storage-state');
  if (!line || !navigator.storage) return;
  const persisted = navigator.storage.persisted ? await navigator.storage.persisted() : false;
  const estimate = navigator.storage.estimate ? await navigator.storage.estimate() : {};
  const used = estimate.usage ? `${Math.round(estimate.usage / 1024)} KB` : '';
  line.textContent = `${persisted ? t('本机存储：已设为持久保存', 'Storage: kept (persistent)')
    : t('本机存储：空间不足时浏览器可能清除，请及时同步', 'Storage: the browser may clear it when space runs out; sync often')} ${used}`;
}

export function startPendingPage(user, syncNow) {
  render(user);
  showStorage();
  const exporter = document.getElementById('export-pending');
  exporter?.addEventListener('click', () => exportEntries(user, exporter));
  document.getElementById('sync-now')?.addEventListener('click', () => syncNow('manual'));
  return () => render(user);
}
