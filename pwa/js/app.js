// Suifang app entry: progressive enhancement only; every page works without it. Registers the service worker
// and offers a waiting new version; on a signed-in page it loads the offline modules (outbox, sync, forms,
// entries waiting to sync, status), so the sign-in page downloads nothing more.

const user = document.querySelector('meta[name="user"]')?.content || null;

// A record form submitted before its module is ready (a quick tap while the modules load) waits for it.
let heldForm = null;
function hold(event) {
  if (event.target instanceof HTMLFormElement && event.target.matches('form.record-form')) {
    event.preventDefault();
    heldForm = event.target;
  }
}

async function offerUpdate(waiting, onTap) {
  const [{ t, el }, { setBanner }] = await Promise.all([import('./labels.js'), import('./banner.js')]);
  const button = el('button', { class: 'button', type: 'button', id: 'reload-update', text: t('重新加载', 'Reload') });
  button.addEventListener('click', () => { onTap(); waiting.postMessage({ type: 'skip-waiting' }); });
  setBanner('update', el('span', {}, `${t('新版本已就绪', 'A new version is ready')} — `, button));
}

async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  const registration = await navigator.serviceWorker.register('/sw.js', { scope: '/', updateViaCache: 'none' });
  let tapped = false;
  const offer = (waiting) => offerUpdate(waiting, () => { tapped = true; });
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

async function start() {
  await import('./outbox.js'); // these two define globalThis.suifang (shared with the service worker)
  await import('./sync.js');
  const [{ captureForms }, { showPending }, { startPendingPage }, status, autosync] = await Promise.all([
    import('./offline.js'), import('./pending-view.js'), import('./pending-page.js'), import('./status.js'),
    import('./autosync.js'),
  ]);
  const { outbox } = globalThis.suifang;
  const forms = captureForms(user);
  document.removeEventListener('submit', hold);
  if (heldForm) heldForm.requestSubmit();
  if (navigator.storage?.persist && !(await outbox.getMeta('persist_asked'))) {
    await outbox.setMeta('persist_asked', true);
    navigator.storage.persist().catch(() => {});
  }
  await forms;
  await showPending(user);
  const run = autosync.startSync(user);
  const redrawPendingPage = document.body.dataset.page === 'pending' ? startPendingPage(user, run) : null;
  status.startStatus(user, (message) => {
    if (message.type === 'sync-state' && message.state === 'syncing') return;
    showPending(user);
    if (redrawPendingPage) redrawPendingPage();
  });
  autosync.guardSignOut(user, run);
  autosync.refreshPages(user, new URLSearchParams(location.search).has('saved'));
  await status.renderSyncState(user);
  document.documentElement.dataset.ready = 'true'; // every module of the page is running
}

if (user) document.addEventListener('submit', hold);
registerServiceWorker().catch((err) => console.warn('service worker not registered:', err));
if (user) start().catch((err) => console.error('offline modules failed to start:', err));
