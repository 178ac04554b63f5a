// When the phone syncs (sync/PROTOCOL.md): at start, on reconnect (online), on returning to the app, on a
// timer while entries wait, and again soon after a failure (2 s, 4 s … 1 min); Background Sync in the service
// worker covers a closed app where the browser has it. Also keeps the user's offline pages up to date and
// warns before signing out with entries left (and refuses to sign out with no signal).
import { el, t } from './labels.js';

const { outbox, sync } = globalThis.suifang;
const REFRESH_EVERY_MS = 10 * 60 * 1000;
const TIMER_MS = 60 * 1000;

async function worker() {
  if (!('serviceWorker' in navigator)) return null;
  const registration = await navigator.serviceWorker.ready;
  return registration.active;
}

/** Ask the service worker to bring this user's offline pages up to date (only changed pages are fetched). */
export async function refreshPages(user, force = false) {
  const last = await outbox.getMeta(`refreshed:${user}`);
  if (!force && last && Date.now() - Date.parse(last) < REFRESH_EVERY_MS) return;
  (await worker())?.postMessage({ type: 'refresh-pages' });
}

export function startSync(user) {
  let failures = 0;
  let retry = null;
  const run = async (reason, always = false) => {
    const saved = (await outbox.getMeta(`sync:${user}`)) || {};
    const stale = !saved.lastSyncAt || Date.now() - Date.parse(saved.lastSyncAt) > REFRESH_EVERY_MS;
    const owed = (await outbox.forUser(user)).some((e) => e.status === 'pending');
    if (!always && !owed && !stale) return;
    const result = await sync.run({ user, reason });
    if (result.applied) refreshPages(user, true);
    else if (result.state === 'idle') refreshPages(user);
    // A dropped connection or a server fault: try again soon, then less often (2 s, 4 s … 1 min).
    // navigator.onLine is not trusted: it can lag behind, or claim a connection that carries nothing.
    clearTimeout(retry);
    if (result.state === 'busy') {
      // Another tab or the worker is syncing; look again shortly in case it fails and waits a while.
      retry = setTimeout(() => run('retry'), 5000);
    } else if (result.state === 'offline' || result.state === 'failed') {
      failures += 1;
      retry = setTimeout(() => run('retry'), Math.min(TIMER_MS, 1000 * 2 ** failures));
    } else {
      failures = 0;
    }
  };
  run('start');
  window.addEventListener('online', () => run('online', true));
  window.addEventListener('pageshow', (event) => { if (event.persisted) run('pageshow'); });
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') run('visible'); });
  setInterval(() => { if (navigator.onLine !== false) run('timer'); }, TIMER_MS);
  return run;
}

/** Signing out needs the server: without a connection the phone says so and keeps everything (the service
    worker sends back here with ?signout=offline when the phone thought it was online but nothing got
    through). */
function refuseSignOutOffline(form) {
  let note = document.getElementById('logout-offline');
  if (!note) {
    note = el('p', { class: 'error', id: 'logout-offline', role: 'alert' });
    form.after(note);
  }
  note.textContent = t(
    '没有网络，现在无法退出登录。请在有网络时再退出；本机的页面和记录都还在。',
    'No connection: you cannot sign out now. Sign out when you are online; the pages and entries on this phone stay.');
}

/** Signing out with no signal is refused; with entries not yet synced: try once, then ask; the entries stay on
    the phone either way. */
export function guardSignOut(user, run) {
  const form = document.getElementById('logout-form');
  if (!form) return;
  if (new URLSearchParams(location.search).get('signout') === 'offline') refuseSignOutOffline(form);
  form.addEventListener('submit', async (event) => {
    if (form.dataset.confirmed) return;
    event.preventDefault();
    if (navigator.onLine === false) {
      refuseSignOutOffline(form);
      return;
    }
    document.getElementById('logout-offline')?.remove();
    await Promise.race([run('sign-out', true), new Promise((r) => { setTimeout(r, 5000); })]);
    const { pending, rejected } = await sync.counts(user);
    const left = pending + rejected;
    if (left && !window.confirm(t(
      `本机还有 ${left} 条记录没有同步。退出后它们仍保存在本机，您再次登录后会继续同步。确定退出吗？`,
      `${left} entries on this phone have not synced. They stay on the phone and sync after you sign in again. Sign out?`))) return;
    form.dataset.confirmed = '1';
    form.requestSubmit();
  });
  form.dataset.guarded = '1';
}
