// What the header, banner and footer say about the phone's copy: the sync state in #sync-state (syncing, N
// pending, last successful sync, failed with reason), "sign in to finish syncing", "a new version is ready",
// "saved on this phone", and in the footer when the page's data was last refreshed.
import { setBanner } from './banner.js';
import { FLASH, t, el, keptAt, formatMoment } from './labels.js';

const { outbox, sync } = globalThis.suifang;

function reason(saved) {
  if (saved.state === 'offline') return t('无网络', 'no connection');
  const error = saved.error || '';
  if (/HTTP 5\d\d/.test(error)) return t(`服务器出错（${error}）`, `server error (${error})`);
  if (/HTTP 403/.test(error)) return t('没有权限', 'not allowed');
  return error;
}

export async function renderSyncState(user, live = null) {
  const box = document.getElementById('sync-state');
  const saved = { ...((await outbox.getMeta(`sync:${user}`)) || {}), ...(live || {}) };
  const { pending, rejected } = await sync.counts(user);
  const parts = [];
  if (saved.state === 'syncing') parts.push(t('正在同步…', 'Syncing…'));
  if (pending) parts.push(t(`${pending} 条待同步`, `${pending} pending`));
  if (rejected) parts.push(t(`${rejected} 条被退回`, `${rejected} sent back`));
  if (saved.state === 'failed' && pending) parts.push(`${t('同步失败：', 'sync failed: ')}${reason(saved)}`);
  else if (saved.state === 'offline' && pending) parts.push(t('无网络', 'no signal'));
  const last = saved.lastSyncAt ? `${t('已同步', 'Synced')} ${formatMoment(saved.lastSyncAt)}` : t('尚未同步', 'Not synced yet');
  if (!parts.length) parts.push(last);
  if (box) {
    box.hidden = false;
    box.dataset.state = saved.state || 'idle';
    box.dataset.pending = String(pending);
    box.dataset.rejected = String(rejected);
    box.classList.toggle('failed', saved.state === 'failed' || saved.state === 'signin' || rejected > 0);
    box.title = parts.includes(last) ? last : [...parts, last].join(' · '); // the pill may be cut short
    const text = parts.join(' · ');
    // A polite live region once it is drawn: a screen reader hears it change (syncing, synced, 2 pending,
    // failed), not the same words on every page opened, nor again when nothing changed.
    if (box.textContent !== text) box.replaceChildren(el('a', { href: '/pending', text }));
    box.setAttribute('aria-live', 'polite');
    box.setAttribute('aria-atomic', 'true');
  }
  const signIn = saved.state === 'signin' && (pending || rejected);
  setBanner('signin', signIn
    ? el('span', {}, t(`登录已过期，请重新登录以完成同步（${pending} 条待同步）。`,
      `Your session has ended: sign in again to finish syncing (${pending} pending). `),
    el('a', { href: '/login', class: 'button', text: t('重新登录', 'Sign in') }))
    : null);
}

function showConflicts(synced) {
  const lost = (synced || []).filter((e) => e.status === 'conflict');
  if (!lost.length) return;
  const fields = lost.flatMap((e) => Object.entries(e.winner || {})
    .map(([field, w]) => `${w.label ? t(w.label.zh, w.label.en) : field} → ${w.value}`));
  setBanner('conflict', el('span', {}, t('已被另一设备较新的修改覆盖：', 'A later edit from another device won: ')
    + fields.join(t('，', ', '))));
}

function showRefreshed() {
  const footer = document.getElementById('refreshed');
  if (!footer) return;
  const kept = keptAt();
  footer.textContent = kept
    ? `${t('离线副本', 'Offline copy')} · ${t('数据更新于', 'data as of')} ${formatMoment(kept)}`
    : `${t('数据更新于', 'Data as of')} ${formatMoment(new Date().toISOString())}`;
  footer.classList.toggle('kept', Boolean(kept));
}

function showFlash() {
  if (sessionStorage.getItem(FLASH) !== 'queued') return;
  sessionStorage.removeItem(FLASH);
  const note = el('p', { class: 'ok', role: 'status', id: 'saved-on-phone',
    text: t('已保存在本机，有网络时会自动同步。', 'Saved on this phone; it syncs by itself when there is signal.') });
  document.getElementById('main')?.prepend(note);
}

/** Keep the status current as syncs run here, in other tabs and in the service worker. */
export function startStatus(user, onChange) {
  showRefreshed();
  showFlash();
  renderSyncState(user);
  new BroadcastChannel(sync.channelName).addEventListener('message', (event) => {
    const message = event.data || {};
    if (message.user !== user) return;
    if (message.type === 'sync-state') {
      renderSyncState(user, message);
      showConflicts(message.synced);
    } else if (message.type === 'outbox-changed') {
      renderSyncState(user);
    }
    onChange(message);
  });
}
