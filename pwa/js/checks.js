// What the phone checks before it keeps an entry with no signal (DOMAIN.md §3: the server's rules where the
// phone can check them). The limits and the messages are the server's own, written into each field by the form
// (backend/cases/offline_checks.py); this file only reads them. The server checks everything again on sync.

const WHOLE = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** Full-width digits, letters and punctuation as ASCII, the ideographic space as a space (as the server reads). */
export const halfwidth = (s) => s
  .replace(/[\uFF01-\uFF5E]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xFEE0))
  .replace(/\u3000/g, ' ');

/** A number as the server's form readers take it, or NaN (empty: null). */
export function readNumber(text, whole) {
  const cleaned = halfwidth(text).trim().replace(/\u3002/g, '.');
  if (!cleaned) return null;
  return (whole ? WHOLE : DECIMAL).test(cleaned) ? Number(cleaned) : NaN;
}

/** What is wrong with an ID number (GB 11643): 'shape', 'check', or null; a birth date inside it is left to
    the server. */
export function idProblem(text) {
  const id = halfwidth(text).replace(/\s/g, '').toUpperCase();
  if (!/^\d{17}[\dX]$/.test(id)) return 'shape';
  const total = ID_WEIGHTS.reduce((sum, w, i) => sum + w * Number(id[i]), 0);
  return ID_CHECK[total % 11] === id[17] ? null : 'check';
}

/** A mainland mobile number once spaces, dashes, brackets and +86 / 0086 / 86 are taken off. */
export function isMobile(text) {
  let phone = halfwidth(text).replace(/[\s\-().]/g, '');
  if (phone.startsWith('+86')) phone = phone.slice(3);
  else if (phone.startsWith('0086')) phone = phone.slice(4);
  else if (phone.length === 13 && phone.startsWith('86')) phone = phone.slice(2);
  return /^1[3-9]\d{9}$/.test(phone);
}

function numberProblem(field, form) {
  const whole = field.dataset.whole === '1';
  const value = readNumber(field.value, whole);
  if (value === null) return null;
  if (Number.isNaN(value)) return field.dataset.nan;
  if (value < Number(field.dataset.lo) || value > Number(field.dataset.hi)) return field.dataset.range;
  const other = field.dataset.below ? form.elements.namedItem(field.dataset.below) : null;
  const bound = other ? readNumber(other.value, other.dataset.whole === '1') : null;
  if (bound !== null && !Number.isNaN(bound) && value >= bound) {
    return field.dataset.belowMsg.replace('{most}', String(bound - 1));
  }
  return null;
}

const DAY_MS = 86400000;

/** The first of a stored case's limits on a date field that `value` (YYYY-MM-DD) breaks, in the server's words
    (`data-limits`, written by backend/cases/offline_checks.py in the order the server checks them); words that
    count from the LMP get the count filled in as the server writes it (46+2 weeks, 330 days). */
export function caseDateProblem(value, limitsJson) {
  let limits;
  try { limits = JSON.parse(limitsJson); } catch { return null; }
  for (const limit of limits) {
    if ((limit.min && value < limit.min) || (limit.max && value > limit.max)) {
      if (!limit.from) return limit.msg;
      const days = Math.round((Date.parse(value) - Date.parse(limit.from)) / DAY_MS);
      return limit.msg.replace('{ga}', `${Math.floor(days / 7)}+${days % 7}`).replace('{days}', String(days));
    }
  }
  return null;
}

/** Every field the phone can check and finds wrong: [field, message] in the form's order. */
export function problems(form) {
  const found = [];
  for (const field of form.querySelectorAll('input')) {
    if (field.disabled || field.closest('[hidden]') || !field.value.trim()) continue;
    let message = null;
    if (field.dataset.lo !== undefined) message = numberProblem(field, form);
    else if (field.type === 'date' && field.max && field.dataset.future && field.value > field.max) {
      message = field.dataset.future;
    } else if (field.type === 'date' && field.dataset.limits) {
      message = caseDateProblem(field.value, field.dataset.limits);
    } else if (field.dataset.idShape) {
      const problem = idProblem(field.value);
      message = problem && (problem === 'shape' ? field.dataset.idShape : field.dataset.idCheck);
    } else if (field.dataset.mobile && !isMobile(field.value)) message = field.dataset.mobile;
    if (message) found.push([field, message]);
  }
  return found;
}
