// Suifang app entry: progressive enhancement only; every page works without it. Starts the service worker
// (and offers a waiting new version), keeps this user's pages on the phone, runs the sync whenever it may
// succeed, and starts the modules of this page.
import './outbox.js';
import './sync.js';
import { t, el, pageUser } from './labels.js';
import { captureForms } from './offline.js';
import { showPending } from './pending-view.js';
import { startPendingPage } from './pending-page.js';
import { renderSyncState, setBanner, startStatus } from './status.js';

const { outbox, sync } = globalThis.suifang;
const REFRESH_EVERY_MS = 10 * 60 * 1000;
const TIMER_MS = 60 * 1000;

async function worker() {
  if (!('serviceWorker' in navigator)) return null;
  const registration = await navigator.serviceWorker.ready;
  return registration.active;
}

async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  const registration = await navigator.serviceWorker.register('/sw.js', { scope: '/', updateViaCache: 'none' });
  let tapped = false;
  const offer = (waiting) => setBanner('update', el('span', {},
    `${t('新版本已就绪', 'A new version is ready')} — `,
    Object.assign(el('button', { class: 'button', type: 'button', id: 'reload-update', text: t('重新加载', 'Reload') }), {
      onclick: () => { tapped = true; waiting.postMessage({ type: 'skip-waiting' }); },
    })));
  if (registration.waiting && navigator.serviceWorker.controller) offer(registration.waiting);
  registration.addEventListener('updatefound', () => {
    const installing = registration.installing;
    installing?.addEventListener('statechange', () => {
      if (installing.state === 'installed' && navigator.serviceWorker.controller) offer(installing);
    });
  });
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (tapped) location.reload(); // only after the tap: the first install also changes the controller
  });
}

/** Ask the service worker to bring this user's offline pages up to date (only changed pages are fetched). */
async function refreshPages(user, force = false) {
  const last = await outbox.getMeta(`refreshed:${user}`);
  if (!force && last && Date.now() - Date.parse(last) < REFRESH_EVERY_MS) return;
  (await worker())?.postMessage({ type: 'refresh-pages' });
}

function startSync(user) {
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
    if (result.state === 'offline' || result.state === 'failed') {
      failures += 1;
      retry = setTimeout(() => run('retry'), Math.min(TIMER_MS, 1000 * 2 ** failures));
    } else if (result.state !== 'busy') {
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

/** Signing out with entries not yet synced: try once, then ask; the entries stay on the phone either way. */
function guardSignOut(user, run) {
  const form = document.getElementById('logout-form');
  if (!form) return;
  form.addEventListener('submit', async (event) => {
    if (form.dataset.confirmed) return;
    event.preventDefault();
    if (navigator.onLine !== false) await Promise.race([run('sign-out', true), new Promise((r) => { setTimeout(r, 5000); })]);
    const { pending, rejected } = await sync.counts(user);
    const left = pending + rejected;
    if (left && !window.confirm(t(
      `本机还有 ${left} 条记录没有同步。退出后它们仍保存在本机，您再次登录后会继续同步。确定退出吗？`,
      `${left} entries on this phone have not synced. They stay on the phone and sync after you sign in again. Sign out?`))) return;
    form.dataset.confirmed = '1';
    form.requestSubmit();
  });
}

async function start() {
  registerServiceWorker().catch((err) => console.warn('service worker not registered:', err));
  const user = pageUser();
  if (!user) return;
  const forms = captureForms(user);
  if (navigator.storage?.persist && !(await outbox.getMeta('persist_asked'))) {
    await outbox.setMeta('persist_asked', true);
    navigator.storage.persist().catch(() => {});
  }
  await forms;
  await showPending(user);
  const run = startSync(user);
  const redrawPendingPage = document.body.dataset.page === 'pending' ? startPendingPage(user, run) : null;
  startStatus(user, (message) => {
    if (message.type === 'sync-state' && message.state === 'syncing') return;
    showPending(user);
    if (redrawPendingPage) redrawPendingPage();
  });
  guardSignOut(user, run);
  if (new URLSearchParams(location.search).has('saved')) refreshPages(user, true);
  else refreshPages(user);
  await renderSyncState(user);
  document.documentElement.dataset.ready = 'true'; // every module of the page is running
}

start();
