/* Suifang's service worker (written by hand). It keeps the app shell and the signed-in user's pages on the
   phone, serves pages network-first with a short timeout, then from the phone, then the offline page, and
   syncs the outbox from Background Sync. CONFIG (the build id and the shell's files) is put in front of this
   file by backend/pwa_files.py.

   Pages are kept per user (cache "suifang-pages-<user id>"), and the user is read from each page's
   <meta name="user">: a phone shared by two cadres never shows one the other's pages. Signing in forgets who
   the user is; signing out also deletes her pages once the server has signed her out (not before: offline
   she stays signed in, with her pages). The first page of another user deletes the previous user's pages. */
'use strict';

importScripts('/js/outbox.js', '/js/sync.js');
try {
  importScripts('/sw-push.js'); // push and notification clicks (alerts); the worker works without them
} catch (err) {
  console.warn('sw-push.js not loaded:', err && err.message);
}

const STATIC_CACHE = `suifang-static-${CONFIG.build}`;
const PAGES = 'suifang-pages-';
const NAV_TIMEOUT_MS = 3000;
/** A fetch the worker makes for itself gives up after this long, body included: on one bar of signal a request
    that never answers must not hold every later refresh behind it. */
const PAGE_FETCH_TIMEOUT_MS = 20000;
const limit = (ms) => (typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(ms) : undefined);
const CASE_PATH = /^\/women\/[0-9a-f-]{36}$/;
const FORM_PATH = /^\/p\/[0-9a-f-]{36}\/(visit|risk|outcome|postnatal|close)$/;
const { outbox, sync } = self.suifang;
const channel = new BroadcastChannel(sync.channelName);

self.addEventListener('install', (event) => {
  // No skipWaiting here: a new version waits until the user taps "reload" (message 'skip-waiting').
  event.waitUntil(caches.open(STATIC_CACHE).then((cache) =>
    cache.addAll(CONFIG.precache.map((url) => new Request(url, { cache: 'reload' })))));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('suifang-static-') && name !== STATIC_CACHE) await caches.delete(name);
    }
    if (self.registration.navigationPreload) await self.registration.navigationPreload.enable();
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === 'POST' && request.mode === 'navigate' && url.pathname === '/login') {
    event.respondWith(signInOrOut(request, { deletePages: false, whenOffline: '/offline' }));
    return;
  }
  if (request.method === 'POST' && request.mode === 'navigate' && url.pathname === '/logout') {
    // the settings page says why, as the page itself does when it knows it is offline
    event.respondWith(signInOrOut(request, { deletePages: true, whenOffline: '/settings?signout=offline' }));
    return;
  }
  if (request.method !== 'GET') return;
  if (request.mode === 'navigate') event.respondWith(navigate(event, url));
  else if (isStatic(url)) event.respondWith(cacheFirst(request));
});

function isStatic(url) {
  return url.pathname.startsWith('/static/') || url.pathname.startsWith('/js/')
    || url.pathname === '/manifest.webmanifest';
}

const isHtml = (response) => (response.headers.get('Content-Type') || '').includes('text/html');
const delay = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** Network first (3 s), then the page kept on the phone, then a shell the page fills from the outbox, then
    the offline page. A page that answers in time is kept for next time. */
async function navigate(event, url) {
  const network = fromNetwork(event, url);
  let response = await Promise.race([network, delay(NAV_TIMEOUT_MS)]);
  const usable = response && response.status < 500 && !(response.status === 404 && shellFor(url.pathname));
  if (usable) return response;
  const kept = await keptPage(url);
  if (kept) return kept;
  if (response === undefined) response = await network; // nothing kept: keep waiting for the network
  return response || (await caches.match('/offline', { cacheName: STATIC_CACHE })) || Response.error();
}

function fromNetwork(event, url) {
  const fetched = Promise.resolve(event.preloadResponse)
    .then((preloaded) => preloaded || fetch(event.request))
    .catch(() => null);
  event.waitUntil(fetched.then((response) => {
    if (response && response.ok && response.type === 'basic' && isHtml(response) && !url.search) {
      return keep(url.pathname, response.clone());
    }
    return null;
  }).catch((err) => console.warn('page not kept:', err && err.message)));
  return fetched;
}

/** Store a page in its user's cache, stamped with the time it was kept (the footer shows it offline). */
async function keep(path, response, version) {
  const html = await response.text();
  const user = (html.match(/<meta name="user" content="([^"]+)"/) || [])[1];
  if (!user) return false; // the sign-in page, the offline page, error pages: nobody's pages
  await noteUser(user);
  const stamp = `<meta name="kept-at" content="${new Date().toISOString()}">`;
  const headers = { 'Content-Type': 'text/html; charset=utf-8', 'X-Version': version || '' };
  const cache = await caches.open(PAGES + user);
  await cache.put(path, new Response(html.replace('<head>', `<head>${stamp}`), { headers }));
  return true;
}

async function noteUser(user) {
  if ((await outbox.getMeta('current_user')) === user) return;
  await outbox.setMeta('current_user', user);
  for (const name of await caches.keys()) {
    if (name.startsWith(PAGES) && name !== PAGES + user) await caches.delete(name);
  }
}

/** Signing in or out as the server answers it (its redirect; a navigation's comes back opaque). Whoever
    signs in next must not be shown these pages, so the phone then forgets whose they are; signing out also
    deletes them. A request that does not get through changes nothing on the phone: she is still signed in
    there, or still the one whose pages these are, and readable offline; she is sent to a page of the app that
    says why (`whenOffline`), never the browser's error. */
async function signInOrOut(request, { deletePages, whenOffline }) {
  let response;
  try {
    response = await fetch(request, { signal: limit(PAGE_FETCH_TIMEOUT_MS) });
  } catch (err) {
    return Response.redirect(whenOffline, 303);
  }
  if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
    await forgetUser(deletePages);
  }
  return response;
}

async function forgetUser(deletePages) {
  await outbox.setMeta('current_user', null);
  if (!deletePages) return;
  for (const name of await caches.keys()) if (name.startsWith(PAGES)) await caches.delete(name);
}

function shellFor(path) {
  if (CASE_PATH.test(path)) return '/offline/case';
  const form = path.match(FORM_PATH);
  return form ? `/offline/form/${form[1]}` : null;
}

async function keptPage(url) {
  const user = await outbox.getMeta('current_user');
  if (!user) return null;
  const cache = await caches.open(PAGES + user);
  const shell = shellFor(url.pathname);
  const kept = await cache.match(url.pathname);
  // The baby of an outcome recorded on this phone is only in the shell's postnatal and close forms, while
  // the outcome waits to sync or the kept form was drawn before it synced (its page not refreshed yet).
  const [, , pregnancy, form] = url.pathname.split('/');
  if (shell && ['postnatal', 'close'].includes(form)) {
    const outcome = await sync.outcomeOnPhone(user, pregnancy);
    const keptAt = kept && ((await kept.clone().text()).match(/<meta name="kept-at" content="([^"]+)">/) || [])[1];
    if (outcome && (!outcome.at || !keptAt || keptAt < outcome.at)) return cache.match(shell);
  }
  return kept || (shell && (await cache.match(shell))) || null;
}

async function cacheFirst(request) {
  const cache = await caches.open(STATIC_CACHE);
  // A page kept under an older release asks for ?v=<old build>: the current file serves it.
  const hit = (await cache.match(request)) || (await cache.match(request, { ignoreSearch: true }));
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && response.type === 'basic') await cache.put(request, response.clone());
  return response;
}

/** Fetch every page the user keeps offline whose version changed (GET /api/pwa/pages), three at a time, and
    drop the pages of cases that left her list. One refresh at a time. */
let refreshing = null;
function refreshPages() {
  refreshing = refreshing || doRefresh().catch((err) => console.warn('refresh failed:', err && err.message))
    .finally(() => { refreshing = null; });
  return refreshing;
}

async function doRefresh() {
  const listed = await fetch('/api/pwa/pages', {
    headers: { Accept: 'application/json' }, cache: 'no-store', signal: limit(PAGE_FETCH_TIMEOUT_MS),
  });
  if (!listed.ok || listed.redirected) return;
  const { user_id: user, pages } = await listed.json();
  await noteUser(user);
  const versions = (await outbox.getMeta(`pages:${user}`)) || {};
  const changed = Object.entries(pages).filter(([path, version]) => versions[path] !== version);
  let failed = 0;
  const worker = async () => {
    for (let next = changed.shift(); next; next = changed.shift()) {
      const [path, version] = next;
      try {
        const response = await fetch(path, {
          cache: 'no-store', credentials: 'same-origin', signal: limit(PAGE_FETCH_TIMEOUT_MS),
        });
        if (response.redirected) { changed.length = 0; return; } // signed out meanwhile
        if (response.ok && isHtml(response) && (await keep(path, response, version))) versions[path] = version;
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  const cache = await caches.open(PAGES + user);
  for (const request of await cache.keys()) {
    const { pathname } = new URL(request.url);
    if ((CASE_PATH.test(pathname) || FORM_PATH.test(pathname)) && !(pathname in pages)) {
      await cache.delete(request);
      delete versions[pathname];
    }
  }
  await outbox.setMeta(`pages:${user}`, versions);
  if (!failed) await outbox.setMeta(`refreshed:${user}`, new Date().toISOString());
  channel.postMessage({ type: 'pages-refreshed', user, failed });
}

self.addEventListener('message', (event) => {
  const type = event.data && event.data.type;
  if (type === 'skip-waiting') self.skipWaiting();
  else if (type === 'refresh-pages') event.waitUntil(refreshPages());
  else if (type === 'forget-user') event.waitUntil(forgetUser(true));
});

self.addEventListener('sync', (event) => {
  if (event.tag === sync.TAG) event.waitUntil(backgroundSync());
});

async function backgroundSync() {
  const user = await outbox.getMeta('current_user');
  if (!user) return;
  const result = await sync.run({ user, reason: 'background' });
  if (result.applied) await refreshPages();
  // Rejecting makes the browser try again later (with backoff); a sign-in cannot be retried into existence.
  if (result.state === 'offline' || result.state === 'failed') throw new Error(result.error || result.state);
}
