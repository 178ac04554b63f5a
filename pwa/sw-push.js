/* Push in Suifang's service worker (loaded by sw.js with importScripts). Every push shows a notification, an
   unreadable one too (iOS revokes subscriptions that push silently); the tag makes a newer digest replace the
   older one; a tap opens the overdue list (or the supervisor's escalation view), in an open window when there
   is one; the app badge shows the overdue count where the platform has one.
   Exposed as self.suifang.push so tests and sw.js can call the same functions the events do. */
(() => {
  'use strict';

  const FALLBACK = Object.freeze({
    title: '随访提醒',
    body: '有需要处理的随访，请打开随访查看。',
    url: '/#overdue',
    tag: 'overdue-digest',
  });
  const ICON = '/static/icons/icon-192.png';

  /** A same-origin path from what the payload says; anything else (another site, junk) is the overdue list. */
  function safePath(raw) {
    if (typeof raw !== 'string' || !raw) return FALLBACK.url;
    try {
      const url = new URL(raw, self.location.origin);
      if (url.origin === self.location.origin) return url.pathname + url.search + url.hash;
    } catch (err) {
      // not a URL: fall through
    }
    return FALLBACK.url;
  }

  function text(value, fallback, max) {
    return typeof value === 'string' && value.trim() ? value.slice(0, max) : fallback;
  }

  /** The notification a push asks for: {title, body, url, tag, badge}. Never throws. */
  function readPush(data) {
    let payload = null;
    try {
      payload = data ? data.json() : null;
    } catch (err) {
      payload = null; // encrypted for another key, truncated, or not JSON
    }
    if (!payload || typeof payload !== 'object') return { ...FALLBACK, badge: null };
    const count = payload.badge_count;
    return {
      title: text(payload.title, FALLBACK.title, 120),
      body: text(payload.body, FALLBACK.body, 400),
      url: safePath(payload.url),
      tag: text(payload.tag, FALLBACK.tag, 64),
      badge: Number.isInteger(count) && count >= 0 ? count : null,
    };
  }

  async function setBadge(count) {
    if (count === null || !('setAppBadge' in self.navigator)) return;
    try {
      if (count > 0) await self.navigator.setAppBadge(count);
      else await self.navigator.clearAppBadge();
    } catch (err) {
      // not installed, or the platform refuses: the badge in the page still shows the count
    }
  }

  async function showPush(data) {
    const note = readPush(data);
    await Promise.all([
      self.registration.showNotification(note.title, {
        body: note.body,
        tag: note.tag,
        renotify: false,
        icon: ICON,
        badge: ICON,
        timestamp: Date.now(),
        data: { url: note.url, badge: note.badge },
      }),
      setBadge(note.badge),
    ]);
    return note;
  }

  /** Open `url` for a tapped notification: navigate and focus a window of the app when one is open (the focused
      or visible one first), else open a new window. Focusing can fail (no user activation): that is fine. */
  async function openFromNotification(rawUrl) {
    const target = new URL(safePath(rawUrl), self.location.origin).href;
    const windows = (await self.clients.matchAll({ type: 'window', includeUncontrolled: true }))
      .filter((client) => new URL(client.url).origin === self.location.origin)
      .sort((a, b) => rank(b) - rank(a));
    for (const client of windows) {
      let opened = null;
      try {
        opened = await client.navigate(target); // rejects for a window this worker does not control
      } catch (err) {
        continue;
      }
      opened = opened || client;
      try {
        await opened.focus();
      } catch (err) {
        // "Not allowed to focus a window" without a user gesture: the window has navigated all the same
      }
      return opened;
    }
    return self.clients.openWindow(target);
  }

  function rank(client) {
    return (client.focused ? 2 : 0) + (client.visibilityState === 'visible' ? 1 : 0);
  }

  self.addEventListener('push', (event) => {
    event.waitUntil(
      showPush(event.data).catch(() =>
        self.registration.showNotification(FALLBACK.title, { body: FALLBACK.body, tag: FALLBACK.tag,
          icon: ICON, data: { url: FALLBACK.url } })),
    );
  });

  self.addEventListener('notificationclick', (event) => {
    event.notification.close();
    const data = event.notification.data || {};
    event.waitUntil(openFromNotification(data.url));
  });

  self.suifang = self.suifang || {};
  self.suifang.push = { FALLBACK, readPush, showPush, openFromNotification, safePath };
})();
