/* The outbox: every record saved on this phone waits here, under the id of the user who recorded it, until the
   server has answered it (IndexedDB database "suifang": stores "outbox" and "meta").

   Pages import this file as a module and the service worker loads it with importScripts, so it exports nothing
   and defines globalThis.suifang.outbox instead.

   An entry: {op_id, user_id, seq, kind, data, path, subject: {woman_id, pregnancy_id, name}, recorded_at,
   status: 'pending' | 'rejected', sent_at, errors, reason, duplicates, replaces, internal, posting_until}.
   `posting_until`: the page is posting the form itself till then (offline.js keeps it here first, so a post that
   hangs loses nothing); sync leaves it alone till that time. The CSRF token is never stored: sync.js reads it
   when it sends. */
'use strict';

(() => {
  const DB_NAME = 'suifang';
  const DB_VERSION = 1;
  let opening = null;

  function request(req) {
    return new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  function done(tx) {
    return new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new DOMException('transaction aborted', 'AbortError'));
    });
  }

  function open() {
    opening = opening || new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        // Version 1. A later version adds stores or indexes here, keeping every entry (never drop the outbox).
        const db = req.result;
        if (!db.objectStoreNames.contains('outbox')) {
          db.createObjectStore('outbox', { keyPath: 'op_id' }).createIndex('user', 'user_id');
        }
        if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta');
      };
      req.onsuccess = () => {
        const db = req.result;
        db.onversionchange = () => { db.close(); opening = null; }; // let a newer worker upgrade the schema
        resolve(db);
      };
      req.onerror = () => { opening = null; reject(req.error); };
    });
    return opening;
  }

  async function transaction(stores, mode, work) {
    const db = await open();
    const tx = db.transaction(stores, mode);
    const finished = done(tx);
    const result = await work(tx);
    await finished;
    return result;
  }

  /** Store a new entry after every entry already there (its `seq` orders sending). */
  function add(entry) {
    return transaction(['outbox', 'meta'], 'readwrite', async (tx) => {
      const meta = tx.objectStore('meta');
      const seq = ((await request(meta.get('seq'))) || 0) + 1;
      meta.put(seq, 'seq');
      const stored = { status: 'pending', ...entry, seq };
      tx.objectStore('outbox').put(stored);
      return stored;
    });
  }

  function put(entry) {
    return transaction(['outbox'], 'readwrite', async (tx) => { tx.objectStore('outbox').put(entry); return entry; });
  }

  /** Put `entry` in the place of the entry `oldOpId` (a corrected entry keeps its turn). */
  function replace(oldOpId, entry) {
    return transaction(['outbox'], 'readwrite', async (tx) => {
      const store = tx.objectStore('outbox');
      const old = await request(store.get(oldOpId));
      store.delete(oldOpId);
      const stored = { ...entry, seq: old ? old.seq : entry.seq };
      store.put(stored);
      return stored;
    });
  }

  function get(opId) {
    return transaction(['outbox'], 'readonly', (tx) => request(tx.objectStore('outbox').get(opId)));
  }

  function remove(opId) {
    return transaction(['outbox'], 'readwrite', async (tx) => { tx.objectStore('outbox').delete(opId); });
  }

  /** This user's entries in the order they were recorded. Another user's entries are never returned. */
  async function forUser(userId) {
    if (!userId) return [];
    const rows = await transaction(['outbox'], 'readonly',
      (tx) => request(tx.objectStore('outbox').index('user').getAll(userId)));
    return rows.sort((a, b) => a.seq - b.seq);
  }

  function getMeta(key) {
    return transaction(['meta'], 'readonly', (tx) => request(tx.objectStore('meta').get(key)));
  }

  function setMeta(key, value) {
    return transaction(['meta'], 'readwrite', async (tx) => { tx.objectStore('meta').put(value, key); });
  }

  /** The phone's stable id, made once (PROTOCOL.md: device_id). */
  async function deviceId() {
    let id = await getMeta('device_id');
    if (!id) {
      id = crypto.randomUUID();
      await setMeta('device_id', id);
    }
    return id;
  }

  const ids = (entry) => entry.data || {};

  /** Ids of the records an entry creates: other entries may refer to them before the server knows them. */
  function createdIds(entry) {
    const data = ids(entry);
    const out = [data.id, entry.kind === 'register' ? data.woman_id : null];
    for (const [key, value] of Object.entries(data)) if (/^babies-\d+-id$/.test(key)) out.push(value);
    return out.filter(Boolean);
  }

  /** Ids of records an entry refers to. */
  function referencedIds(entry) {
    const data = ids(entry);
    return [data.pregnancy_id, data.infant_id, data.target_id, entry.kind === 'register' ? data.woman_id : null]
      .filter(Boolean);
  }

  /** Entries that cannot be sent yet because they refer to a record another entry of this user would create,
      and that entry was sent back (rejected) or is itself held (PROTOCOL.md §5). */
  function held(entries) {
    const waitingFor = new Map();
    const out = new Map();
    for (const entry of entries) {
      const blocker = referencedIds(entry).map((id) => waitingFor.get(id)).find(Boolean);
      if (blocker) out.set(entry.op_id, blocker);
      if (blocker || entry.status === 'rejected') {
        for (const id of createdIds(entry)) waitingFor.set(id, blocker || entry.op_id);
      }
    }
    return out;
  }

  globalThis.suifang = globalThis.suifang || {};
  globalThis.suifang.outbox = {
    add, put, replace, get, remove, forUser, getMeta, setMeta, deviceId, createdIds, referencedIds, held,
  };
})();
