/* Sync: push this user's outbox to the server and record each answer (sync/PROTOCOL.md, version 1).
   One sync at a time on this phone, across tabs and the service worker (Web Lock "suifang-sync"); the state
   (syncing, N pending, last success, failed with reason, sign in needed) is kept in the outbox's meta store
   and announced on the BroadcastChannel "suifang".

   Pages import this file as a module and the service worker loads it with importScripts, so it exports nothing
   and defines globalThis.suifang.sync instead. Needs outbox.js first. */
'use strict';

(() => {
  const TAG = 'suifang-outbox'; // Background Sync tag
  const LOCK = 'suifang-sync';
  const BATCH = 100; // the server takes up to max_ops (500); smaller batches finish on a weak signal
  const TIMEOUT_MS = 30000;
  const outbox = globalThis.suifang.outbox;
  const channel = new BroadcastChannel('suifang');

  function announce(message) {
    channel.postMessage(message);
  }

  /** Device time as ISO 8601 with its UTC offset, e.g. 2026-11-23T10:14:03+08:00. */
  function localIso(date = new Date()) {
    const pad = (n) => String(Math.abs(n)).padStart(2, '0');
    const offset = -date.getTimezoneOffset();
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:`
      + `${pad(date.getMinutes())}:${pad(date.getSeconds())}${offset >= 0 ? '+' : '-'}`
      + `${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
  }

  function timeout() {
    return typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(TIMEOUT_MS) : undefined;
  }

  const signedOut = (response) => response.status === 401
    || (response.redirected && new URL(response.url).pathname === '/login');

  /** Who is signed in and the CSRF token, read fresh at every sync (never stored with an entry). */
  async function session() {
    const response = await fetch('/sync/session', {
      headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin', signal: timeout(),
    });
    if (signedOut(response)) return null;
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    if (body.server_time) {
      // How far the device clock is off: the forms use it to propose today's date offline.
      await outbox.setMeta('clock_offset_ms', Date.parse(body.server_time) - Date.now());
    }
    if (typeof body.utc_offset_min === 'number') {
      // The service's zone, where the pages read it at once (labels.js): not in a worker, which shows no dates.
      try { globalThis.localStorage?.setItem('suifang-utc-offset-min', String(body.utc_offset_min)); } catch { /* a worker */ }
    }
    return body;
  }

  async function gzip(text) {
    const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
    return new Response(stream).arrayBuffer();
  }

  /** POST one batch. Answers {results} or {state, error} for a failure of the whole request. */
  async function pushBatch(current, entries) {
    const body = JSON.stringify({
      v: 1,
      device_id: await outbox.deviceId(),
      sent_at: localIso(),
      ops: entries.map((e) => ({
        op_id: e.op_id, kind: e.kind, recorded_at: e.recorded_at, data: e.data,
        ...(e.replaces ? { replaces: e.replaces } : {}),
      })),
    });
    const compress = typeof CompressionStream === 'function' && body.length > 2048;
    const send = async (token, zipped) => fetch('/sync/push', {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      signal: timeout(),
      headers: {
        'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': token,
        ...(zipped ? { 'Content-Encoding': 'gzip' } : {}),
      },
      body: zipped ? await gzip(body) : body,
    });
    let response = await send(current.csrf_token, compress);
    if (response.status === 400 && compress) response = await send(current.csrf_token, false);
    if (response.status === 403) {
      // A stale token (the session was renewed): read a fresh one once, then give up with the reason.
      const fresh = await session();
      if (!fresh) return { state: 'signin' };
      response = await send(fresh.csrf_token, false);
    }
    if (signedOut(response)) return { state: 'signin' };
    if (response.status === 413 && entries.length > 1) return { state: 'split' };
    if (!response.ok) {
      let title = '';
      try { title = (await response.json()).title || ''; } catch { /* not a problem document */ }
      return { state: 'failed', error: `HTTP ${response.status}${title ? ` ${title}` : ''}` };
    }
    const answer = await response.json();
    return { results: answer.results || [] };
  }

  function errorsByField(errors) {
    const out = {};
    for (const e of errors || []) {
      out[e.field || ''] = { zh: e.zh || e.message, en: e.en || e.message };
    }
    return out;
  }

  /** An entry the server holds now, as the phone remembers it (pages kept before it show it done). */
  function syncedItem(entry, status = 'applied', winner = null) {
    return {
      op_id: entry.op_id, kind: entry.kind, data: entry.data, subject: entry.subject, status, winner,
      at: new Date().toISOString(),
    };
  }

  /** Remember these as synced lately (the last 100). */
  async function rememberSynced(user, items) {
    if (!items.length) return;
    const recent = ((await outbox.getMeta(`synced:${user}`)) || []).concat(items).slice(-100);
    await outbox.setMeta(`synced:${user}`, recent);
  }

  /** Record the server's answer to each entry; the entries that reached the server leave the outbox. */
  async function record(entries, results, report) {
    for (const [i, entry] of entries.entries()) {
      const result = results[i] && results[i].op_id === entry.op_id
        ? results[i] : results.find((r) => r.op_id === entry.op_id);
      if (!result) continue;
      const status = result.status === 'duplicate' ? (result.original || 'applied') : result.status;
      if (status === 'applied' || status === 'conflict') {
        await outbox.remove(entry.op_id);
        if (!entry.internal) report.synced.push(syncedItem(entry, status, result.winner || null));
      } else if (status === 'rejected' && entry.internal) {
        await outbox.remove(entry.op_id); // a `discard` the server had no use for: nothing left to do
      } else if (status === 'rejected') {
        await outbox.put({
          ...entry, status: 'rejected', sent_at: null, reason: result.reason || 'invalid',
          errors: errorsByField(result.errors), duplicates: result.possible_duplicates || null,
        });
        report.rejected += 1;
      } else {
        // retry (a fault on the server, or waiting for an earlier op): the same op goes again next time.
        await outbox.put({ ...entry, sent_at: null });
      }
    }
  }

  async function counts(user) {
    const entries = (await outbox.forUser(user)).filter((e) => !e.internal);
    return {
      pending: entries.filter((e) => e.status !== 'rejected').length,
      rejected: entries.filter((e) => e.status === 'rejected').length,
    };
  }

  async function finish(user, state, report) {
    const previous = (await outbox.getMeta(`sync:${user}`)) || {};
    const now = new Date().toISOString();
    const saved = {
      ...previous, ...state, at: now, ...(await counts(user)),
      lastSyncAt: state.state === 'idle' ? now : previous.lastSyncAt || null,
    };
    if (state.state !== 'failed') saved.error = state.error || null;
    await outbox.setMeta(`sync:${user}`, saved);
    if (report) await rememberSynced(user, report.synced);
    announce({ type: 'sync-state', user, ...saved, synced: report ? report.synced : [] });
    return { ...saved, applied: report ? report.synced.length : 0, rejectedNow: report ? report.rejected : 0 };
  }

  async function pushAll(user, report) {
    let current;
    try {
      current = await session();
    } catch (err) {
      return finish(user, { state: 'offline', error: String(err && err.message || err) }, report);
    }
    // Only the signed-in user's own entries are ever sent, under her own session (a shared phone).
    if (!current || current.user_id !== user) return finish(user, { state: 'signin' }, report);
    let size = Math.min(BATCH, current.max_ops || BATCH);
    const tried = new Set();
    for (;;) {
      const all = await outbox.forUser(user);
      const held = outbox.held(all);
      const now = new Date().toISOString();
      const batch = all.filter((e) => e.status === 'pending' && !held.has(e.op_id) && !tried.has(e.op_id)
        && !(e.posting_until && e.posting_until > now)) // its page is posting it itself right now
        .slice(0, size);
      if (!batch.length) break;
      const sentAt = new Date().toISOString();
      for (const entry of batch) await outbox.put({ ...entry, sent_at: sentAt, attempts: (entry.attempts || 0) + 1 });
      let answer;
      try {
        answer = await pushBatch(current, batch);
      } catch (err) {
        // The connection dropped, perhaps after the server committed: the same ops go again (duplicates).
        return finish(user, { state: 'offline', error: String(err && err.message || err) }, report);
      }
      if (answer.state === 'split') {
        size = Math.max(1, Math.floor(batch.length / 2));
        continue;
      }
      if (answer.state) return finish(user, answer, report);
      batch.forEach((e) => tried.add(e.op_id));
      await record(batch, answer.results, report);
    }
    return finish(user, { state: 'idle' }, report);
  }

  /** Sync `user`'s outbox now unless a sync is already running on this phone (then its result will be
      announced). Resolves to the state: idle | offline | failed | signin | busy, with counts. */
  async function run({ user, reason = 'manual' } = {}) {
    if (!user) return { state: 'signin' };
    const work = async () => {
      announce({ type: 'sync-state', user, state: 'syncing', reason });
      return pushAll(user, { synced: [], rejected: 0 });
    };
    if (!(globalThis.navigator && navigator.locks)) return work();
    return navigator.locks.request(LOCK, { ifAvailable: true }, (lock) => (lock ? work() : { state: 'busy' }));
  }

  /** Background Sync where the browser has it (Chromium); elsewhere the page's triggers do the work. */
  async function requestBackgroundSync(registration) {
    try {
      if (registration && registration.sync) await registration.sync.register(TAG);
    } catch { /* not allowed here (e.g. a private window); the other triggers still run */ }
  }

  /** The outcome of a pregnancy recorded on this phone: waiting in the outbox, or synced lately (`at`). Pages
      kept before it still show her pregnant: the postnatal and close forms are drawn from it instead. */
  async function outcomeOnPhone(user, pregnancyId) {
    const mine = (e) => e.kind === 'outcome' && e.data && e.data.pregnancy_id === pregnancyId;
    const waiting = (await outbox.forUser(user)).filter(mine).pop();
    if (waiting) return { data: waiting.data, at: null };
    const synced = ((await outbox.getMeta(`synced:${user}`)) || []).filter(mine).pop();
    return synced ? { data: synced.data, at: synced.at } : null;
  }

  /** Whether a sync is sending on this phone right now (a tab or the worker holds the lock). An entry with a
      `sent_at` and no sync running was sent and got no answer: the server may hold it. */
  async function running() {
    if (!(globalThis.navigator && navigator.locks && navigator.locks.query)) return false;
    const { held } = await navigator.locks.query();
    return held.some((lock) => lock.name === LOCK);
  }

  globalThis.suifang.sync = {
    run, running, counts, requestBackgroundSync, outcomeOnPhone, localIso, syncedItem, rememberSynced, TAG,
    channelName: 'suifang',
  };
})();
