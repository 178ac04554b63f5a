// Offline writing: a record form (.record-form) submitted without a connection, or when the server cannot be
// reached, is saved in the outbox under its client UUID and shown at once as 待同步; online it is posted as
// before. Also prepares forms shown from the phone's copy (fresh UUIDs, today's date) and the correction of an
// entry from the pending list (#entry=<op_id>).
import { FLASH, t, keptAt, serviceToday } from './labels.js';
import { problems } from './checks.js';
import { caseOnPhone } from './pending-view.js';

const { outbox, sync } = globalThis.suifang;
const PLACEHOLDER = '00000000-0000-0000-0000-000000000000';
const PLACEHOLDER_BABY = '00000000-0000-0000-0000-000000000001';
const POST_TIMEOUT_MS = 15000;

/** The forms' data-op → the operation kinds of sync/PROTOCOL.md §3. */
const KINDS = {
  register_pregnancy: 'register', prenatal_visit: 'visit', risk_grade: 'risk', outcome: 'outcome',
  postnatal_visit: 'postnatal', closure: 'close', correction: 'correct',
};
/** Operation kind → the `saved=` the server's own redirect uses. */
const SAVED = { register: 'register', visit: 'visit', risk: 'risk', outcome: 'outcome', postnatal: 'postnatal',
  close: 'close', correct: 'correction', edit_registration: 'edit' };

const opKind = (form) => KINDS[form.dataset.op] || form.dataset.op;

/** Today on the phone, corrected by how far its clock was off at the last sync. */
function formData(form) {
  const data = {};
  for (const [key, value] of new FormData(form)) if (key !== 'csrf' && typeof value === 'string') data[key] = value;
  // A correction or a registration edit names its target in the URL (/correct|edit/<type>/<id>).
  const target = new URL(form.action).pathname.match(/^\/(?:correct|edit)\/([a-z_]+)\/([0-9a-f-]{36})$/);
  if (target) [, data.target_type, data.target_id] = target;
  return data;
}

function subjectOf(form, kind, data) {
  if (kind === 'register') return { woman_id: data.woman_id, pregnancy_id: data.id, name: data.name };
  const link = document.querySelector('.case-strip a[href^="/women/"]');
  const womanId = link ? link.getAttribute('href').split('/')[2] : null;
  return {
    woman_id: womanId === PLACEHOLDER ? null : womanId,
    pregnancy_id: data.pregnancy_id || null,
    name: link ? link.textContent.trim() : '',
  };
}

function afterSave(entry, online) {
  const woman = entry.subject && entry.subject.woman_id;
  if (!woman) return '/';
  return online ? `/women/${woman}?saved=${SAVED[entry.kind] || 'record'}` : `/women/${woman}`;
}

const input = (form, name) => form.querySelector(`[name="${name}"]`);

function setValue(form, name, value) {
  const fields = form.querySelectorAll(`[name="${name}"]`);
  for (const field of fields) {
    if (field.type === 'checkbox') field.checked = Boolean(value) && value !== '0';
    else if (field.type === 'radio') field.checked = field.value === value;
    else field.value = value;
  }
  if (fields.length) fields[0].dispatchEvent(new Event('change', { bubbles: true }));
}

/** Post the form as the browser would, but without leaving the page, so a failure can go to the outbox. */
async function postOnline(form) {
  try {
    const response = await fetch(form.action, {
      method: 'POST',
      body: new URLSearchParams(new FormData(form)),
      redirect: 'manual',
      credentials: 'same-origin',
      // JSON errors for the whole request (401, 403); the form's own errors still come back as the page.
      headers: { Accept: 'application/json;q=0.9, text/html;q=0.8' },
      signal: typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(POST_TIMEOUT_MS) : undefined,
    });
    if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) return 'saved';
    if (response.status === 409 || response.status === 422) return 'invalid';
    return 'queue'; // 401 (session expired), 403 (a page kept with an old token), 5xx: the outbox keeps it
  } catch {
    return 'queue'; // no connection or no answer in time; if the server did save it, the sync says duplicate
  }
}

/** What the phone can tell is wrong before keeping the entry: required fields left empty, then the server's
    own limits (checks.js); shown beside each field, nothing typed is lost. True when something is. */
function refused(form) {
  const missing = [...form.querySelectorAll('[required]')]
    .filter((f) => !f.matches(':disabled') && !f.closest('[hidden]') && !f.value.trim());
  for (const field of missing) showError(form, field.name, t('必填', 'Required'));
  const wrong = problems(form).filter(([field]) => !missing.includes(field));
  for (const [field, message] of wrong) showError(form, field.name, message);
  const first = form.querySelector('.field.invalid input, .field.invalid select, .field.invalid textarea');
  if (first) first.focus();
  return missing.length + wrong.length > 0;
}

/** The message beside its field, as the server's own pages put it: the field is marked invalid and described
    by the message, so a screen reader names what is wrong when the field takes the focus. */
function showError(form, name, message) {
  const field = input(form, name);
  const box = field ? field.closest('.field') || field.parentElement : null;
  const p = document.createElement('p');
  p.className = 'error js-error';
  p.id = `je-${name}`;
  p.setAttribute('role', 'alert');
  p.textContent = message;
  if (field) {
    field.setAttribute('aria-invalid', 'true');
    const described = (field.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && id !== p.id);
    field.setAttribute('aria-describedby', [...described, p.id].join(' '));
  }
  if (box) {
    box.classList.add('invalid');
    box.append(p);
  } else {
    form.prepend(p);
  }
}

/** The phone's own messages gone before it checks again; a field keeps its mark while the server's stands. */
function clearErrors(form) {
  for (const p of form.querySelectorAll('.js-error')) {
    const field = p.id ? form.querySelector(`[aria-describedby~="${p.id}"]`) : null;
    if (field) {
      const rest = field.getAttribute('aria-describedby').split(' ').filter((id) => id && id !== p.id);
      if (rest.length) field.setAttribute('aria-describedby', rest.join(' '));
      else field.removeAttribute('aria-describedby');
      if (!rest.some((id) => document.getElementById(id)?.classList.contains('error'))) {
        field.removeAttribute('aria-invalid');
        field.closest('.field')?.classList.remove('invalid');
      }
    }
    p.remove();
  }
}

const outboxChanged = (entry) => new BroadcastChannel(sync.channelName)
  .postMessage({ type: 'outbox-changed', user: entry.user_id });

/** Tell the other tabs and the worker the outbox changed, and ask for a sync. */
async function announce(entry) {
  outboxChanged(entry);
  if ('serviceWorker' in navigator) {
    const registration = await navigator.serviceWorker.getRegistration();
    await sync.requestBackgroundSync(registration);
  }
}

async function queue(entry) {
  await outbox.add(entry);
  await announce(entry);
}

/** A record the server saved from the form itself: out of the outbox, and remembered as synced, so a page kept
    on the phone (shown when the server's own page is slow to come) shows it done, not still to do. */
async function savedOnline(entry) {
  await outbox.remove(entry.op_id);
  await sync.rememberSynced(entry.user_id, [sync.syncedItem(entry)]);
  outboxChanged(entry);
}

function saving(form, busy) {
  const button = form.querySelector('button[type=submit]');
  if (!button) return;
  if (busy) {
    button.dataset.label = button.textContent;
    button.textContent = t('正在保存…', 'Saving…');
  } else if (button.dataset.label) {
    button.textContent = button.dataset.label;
  }
  button.disabled = busy;
}

async function saveEdit(old, form, data) {
  // Sent once already: the server may hold it as it was, so a change now could be answered `duplicate` and lost.
  if (old.sent_at) {
    window.alert(await sync.running()
      ? t('这条记录正在上传，请在同步完成后再修改。', 'This entry is being sent; change it after the sync.')
      : t('这条记录上次上传时没有收到服务器的答复，可能已经保存。请等下次同步完成后再修改；已保存的记录可在个案页“更正”。',
        'This entry was sent but no answer came back: the server may have it. Change it after the next sync; '
        + 'a saved record can be corrected from the case page.'));
    return;
  }
  const base = {
    ...old, data, recorded_at: sync.localIso(), status: 'pending', errors: null, reason: null, duplicates: null,
    sent_at: null,
  };
  // A rejected op is final on the server: the fix is a new op naming it (PROTOCOL.md §5), in its place.
  if (old.status === 'rejected') {
    await outbox.replace(old.op_id, { ...base, op_id: crypto.randomUUID(), replaces: old.op_id });
  } else {
    await outbox.put(base);
  }
  outboxChanged(old);
  sessionStorage.setItem(FLASH, 'queued');
  location.assign('/pending');
}

async function save(form, user) {
  if (form.dataset.unavailable) return;
  clearErrors(form);
  const data = formData(form);
  if (form.dataset.entry) {
    const old = await outbox.get(form.dataset.entry);
    if (old && old.user_id === user) {
      if (!refused(form)) await saveEdit(old, form, data);
      return;
    }
  }
  if (!data.id) {
    data.id = crypto.randomUUID();
    if (input(form, 'id')) input(form, 'id').value = data.id;
  }
  const kind = opKind(form);
  const entry = {
    op_id: data.id, user_id: user, kind, data, path: new URL(form.action).pathname,
    subject: subjectOf(form, kind, data), recorded_at: sync.localIso(),
  };
  const known = await outbox.get(entry.op_id);
  if (!known && navigator.onLine !== false) {
    // Kept on the phone before it is posted: on one bar of signal the post may hang, and a cadre who gives up
    // and leaves must lose nothing. Held back from sync while the post runs; if the page dies, it syncs after
    // (the server answers `duplicate` if the post did land).
    await outbox.add({ ...entry, posting_until: new Date(Date.now() + POST_TIMEOUT_MS + 5000).toISOString() });
    saving(form, true);
    const online = await postOnline(form);
    if (online === 'saved') {
      await savedOnline(entry);
      location.assign(afterSave(entry, true));
      return;
    }
    if (online === 'invalid') { // the server's page, with its messages
      await outbox.remove(entry.op_id);
      HTMLFormElement.prototype.submit.call(form);
      return;
    }
    saving(form, false);
    if (refused(form)) { await outbox.remove(entry.op_id); return; }
    const kept = await outbox.get(entry.op_id);
    if (kept) {
      await outbox.put({ ...kept, data, posting_until: null });
      await announce(entry);
    } else {
      await queue(entry);
    }
  } else {
    if (refused(form)) return;
    if (!known) await queue(entry);
    else if (known.status === 'pending' && !known.sent_at) await outbox.put({ ...known, data }); // a second tap
  }
  sessionStorage.setItem(FLASH, 'queued');
  location.assign(afterSave(entry, false));
}

/** The postnatal and close forms of a pregnancy whose outcome was recorded on this phone (waiting, or synced
    before the kept form was refreshed) are drawn around a placeholder baby (the shell): put the babies of that
    outcome in its place, or take the baby's parts away. */
async function fillPendingBabies(form, user, pregnancyId) {
  const select = input(form, 'infant_id');
  const placeholder = select?.querySelector(`option[value="${PLACEHOLDER_BABY}"]`);
  if (!placeholder) return;
  const outcome = await sync.outcomeOnPhone(user, pregnancyId);
  const d = outcome ? outcome.data : {};
  const babies = Object.keys(d).filter((k) => /^babies-\d+-id$/.test(k)).map((k) => Number(k.split('-')[1]))
    .filter((i) => i < Number(d.n_babies || 1) && d[`babies-${i}-alive`] !== '0'
      && ['live_birth', 'stillbirth'].includes(d.outcome_type));
  const sexes = { 1: t('男婴', 'boy'), 2: t('女婴', 'girl'), 0: t('性别不明', 'sex unknown') };
  for (const i of babies) {
    const option = new Option(`${sexes[d[`babies-${i}-sex`]] || ''}${babies.length > 1 ? ` ${i + 1}` : ''}`
      + `${d[`babies-${i}-weight_g`] ? `（${d[`babies-${i}-weight_g`]} g）` : ''}`, d[`babies-${i}-id`]);
    option.dataset.milestone = '1w';
    select.insertBefore(option, placeholder);
  }
  placeholder.remove();
  if (!babies.length) {
    select.closest('.field')?.remove();
    form.querySelector('[data-part="baby"]')?.remove();
  }
}

/** A form shown from the phone's copy was drawn on another day for another submission: new UUIDs, today's
    date, and the choices the link asked for (?kind=check, ?infant=…). */
async function prepareKeptForm(form) {
  for (const field of form.querySelectorAll('input[type="hidden"]')) {
    if (field.name === 'id' || /^babies-\d+-id$/.test(field.name)
        || (field.name === 'woman_id' && opKind(form) === 'register')) field.value = crypto.randomUUID();
  }
  const drawnOn = document.getElementById('refreshed')?.dataset.at;
  const today = await serviceToday();
  for (const field of form.querySelectorAll('input[type="date"]')) {
    if (drawnOn && field.value === drawnOn) field.value = today;
    if (field.max) field.max = today;
  }
  const query = new URLSearchParams(location.search);
  for (const [param, name] of [['kind', 'kind'], ['check_no', 'check_no'], ['n', 'n_babies'], ['infant', 'infant_id']]) {
    if (query.has(param) && input(form, name)) setValue(form, name, query.get(param));
  }
  if (query.get('infant') && input(form, 'covers_mother')) setValue(form, 'covers_mother', '');
}

/** Correcting an entry from the pending list: its values and the server's message per field. */
async function openEntry(form, user, opId) {
  const entry = await outbox.get(opId);
  if (!entry || entry.user_id !== user) return;
  form.dataset.entry = opId;
  for (const field of form.querySelectorAll('input[type="checkbox"]')) field.checked = false;
  for (const [name, value] of Object.entries(entry.data)) setValue(form, name, value);
  if (entry.duplicates && !input(form, 'confirm_duplicate')) {
    const label = document.createElement('label');
    label.className = 'check';
    const box = document.createElement('input');
    Object.assign(box, { type: 'checkbox', name: 'confirm_duplicate', value: '1' });
    label.append(box, ` ${t('核对无误，仍然登记', 'Checked: register anyway')}`);
    form.insertBefore(label, form.querySelector('button[type="submit"]'));
  }
  const lang = document.documentElement.lang === 'en' ? 'en' : 'zh';
  for (const [name, message] of Object.entries(entry.errors || {})) {
    showError(form, name.replace(/^new-/, 'new-'), message[lang] || message.zh || String(message));
  }
  const note = document.createElement('p');
  note.className = entry.status === 'rejected' ? 'alert js-error' : 'ok js-error';
  note.setAttribute('role', 'status');
  note.textContent = entry.status === 'rejected'
    ? t('服务器退回了这条记录：请按提示修改后保存，修改后会重新上传。', 'The server sent this entry back: correct it and save; it will upload again.')
    : t('正在修改一条待同步记录。', 'You are changing an entry that is waiting to sync.');
  form.before(note);
}

/** A form drawn from the shell for a case the phone does not hold (not kept, not registered here): nothing
    typed here could name her, so there is no Save, only why. */
function unavailable(form) {
  form.dataset.unavailable = '1';
  for (const field of form.elements) field.disabled = true;
  form.querySelectorAll('button[type="submit"]').forEach((button) => button.remove());
  const note = document.createElement('p');
  note.className = 'alert';
  note.id = 'case-not-on-phone';
  note.setAttribute('role', 'status');
  note.textContent = t(
    '这个个案不在本机上，没有网络时无法记录。请在有网络时打开这个个案，本机会保存它以便离线使用。',
    'This case is not on this phone, so nothing can be recorded without a connection. Open the case when you are online; the phone then keeps it for offline use.');
  form.before(note);
}

async function prepare(form, user) {
  const placeholder = input(form, 'pregnancy_id');
  if (placeholder && placeholder.value === PLACEHOLDER) {
    // The form of a pregnancy registered offline (a shell): make it this pregnancy's form.
    const [, , pregnancyId] = location.pathname.split('/');
    if (!(await caseOnPhone(user, pregnancyId))) {
      unavailable(form);
      return;
    }
    placeholder.value = pregnancyId;
    form.action = location.pathname;
  }
  if (keptAt()) await prepareKeptForm(form);
  const pregnancyId = input(form, 'pregnancy_id')?.value;
  if (pregnancyId) await fillPendingBabies(form, user, pregnancyId);
  const editing = /^#entry=([0-9a-f-]{36})$/.exec(location.hash);
  if (editing) await openEntry(form, user, editing[1]);
}

/** Take over the page's record form at once (a quick tap must not post it natively while the phone has no
    signal); a submit waits until the form is prepared. */
export function captureForms(user) {
  const form = document.querySelector('form.record-form');
  if (!form) return Promise.resolve();
  const ready = prepare(form, user);
  document.addEventListener('submit', (event) => {
    if (event.target !== form || event.defaultPrevented) return;
    event.preventDefault();
    if (form.dataset.saving) return;
    form.dataset.saving = '1';
    ready.then(() => save(form, user)).finally(() => { delete form.dataset.saving; });
  });
  return ready;
}
