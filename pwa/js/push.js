// Web Push on the page: notifications turned on from a tap, the settings section (on / off / blocked / not
// supported, with the iPhone hint), a test notification with the time the last one arrived, and this browser's
// subscription sent to the server again whenever the app opens (the server deletes expired ones; a new VAPID
// key on the server means subscribing again). Phones without push still see the overdue badge on every page.

import { formatDate, formatMoment } from './labels.js';

const EN = document.documentElement.lang === 'en';
const t = (zh, en) => (EN ? en : zh);
const SYNCED_KEY = 'suifang-push-synced';
/** Set while notifications are on in this browser (by a tap, till a tap turns them off): a subscription lost
    on the way — the server's key changed and subscribing again failed with no signal, or the browser dropped
    it — is made again at the next app open, not only at the next tap on the settings page. */
const WANTED_KEY = 'suifang-push-wanted';

/** Who this browser's subscription was last sent to the server for: on a shared phone the next cadre to sign
    in takes the subscription over at once (the server keeps one owner per endpoint), not only when she opens
    the settings page. */
function syncedMark(endpoint) {
  const user = document.querySelector('meta[name="user"]');
  return `${user ? user.content : ''} ${endpoint}`;
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : '';
}

/** 'ok', 'blocked' or 'unsupported' for this browser as it is now. */
export function support() {
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) {
    return 'unsupported';
  }
  return Notification.permission === 'denied' ? 'blocked' : 'ok';
}

const isIos = () => /iPhone|iPad|iPod/.test(navigator.userAgent)
  || (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1);
const isStandalone = () => window.matchMedia('(display-mode: standalone)').matches || navigator.standalone === true;
const isInAppBrowser = () => /MicroMessenger|WeChat|QQ\/|Weibo|DingTalk/i.test(navigator.userAgent);

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  return { ok: response.ok, status: response.status, data };
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(base64url.length / 4) * 4, '=');
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/** False when the subscription was made with another server key: pushes signed with the new key would be
    refused (403), so the browser must subscribe again. */
function madeWithKey(subscription, publicKey) {
  const own = subscription.options && subscription.options.applicationServerKey;
  if (!own) return true;
  const a = new Uint8Array(own);
  const b = keyBytes(publicKey);
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

async function serverKey() {
  const answer = await api('GET', '/api/push/key');
  if (!answer.ok || !answer.data || !answer.data.publicKey) throw new PushUnavailable();
  return answer.data.publicKey;
}

class PushUnavailable extends Error {}

async function readyRegistration(timeoutMs = 10000) {
  const timeout = new Promise((resolve) => { setTimeout(() => resolve(null), timeoutMs); });
  return Promise.race([navigator.serviceWorker.ready, timeout]);
}

async function subscribeWith(registration, publicKey) {
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !madeWithKey(subscription, publicKey)) {
    await subscription.unsubscribe();
    subscription = null;
  }
  return subscription || registration.pushManager.subscribe({
    userVisibleOnly: true, // every push shows a notification; iOS requires it
    applicationServerKey: keyBytes(publicKey),
  });
}

async function save(subscription) {
  const answer = await api('POST', '/api/push/subscriptions', subscription.toJSON());
  if (!answer.ok) throw new Error((answer.data && answer.data.title) || `HTTP ${answer.status}`);
  sessionStorage.setItem(SYNCED_KEY, syncedMark(subscription.endpoint));
  return answer.data;
}

/** Send this browser's subscription to the server again (each app open; `force` on the settings page).
    Returns {subscribed, lastSuccessAt}, or null when notifications are not on in this browser. */
export async function resync({ force = false } = {}) {
  if (!csrfToken() || support() !== 'ok' || Notification.permission !== 'granted') return null;
  const registration = await navigator.serviceWorker.getRegistration();
  if (!registration) return null;
  let subscription = await registration.pushManager.getSubscription();
  if (subscription) localStorage.setItem(WANTED_KEY, '1'); // on before this flag existed
  else if (localStorage.getItem(WANTED_KEY) !== '1') return null; // turned off here: only a tap turns it on
  else subscription = await subscribeWith(registration, await serverKey());
  if (!force && sessionStorage.getItem(SYNCED_KEY) === syncedMark(subscription.endpoint)) return { subscribed: true };
  const publicKey = await serverKey();
  if (!madeWithKey(subscription, publicKey)) subscription = await subscribeWith(registration, publicKey);
  return save(subscription);
}

/** Turn notifications on; call from a tap (iOS and Chrome ask for permission only then). */
export async function turnOn(permissionRequest = Notification.requestPermission()) {
  const permission = await permissionRequest;
  if (permission !== 'granted') return { state: permission === 'denied' ? 'blocked' : 'off' };
  const publicKey = await serverKey();
  const registration = await readyRegistration();
  if (!registration) {
    throw Object.assign(new Error(t('应用尚未安装完成，请刷新页面后再试', 'The app is not ready yet: reload and try again')),
      { forUser: true });
  }
  const saved = await save(await subscribeWith(registration, publicKey));
  localStorage.setItem(WANTED_KEY, '1');
  return { state: 'on', ...saved };
}

export async function turnOff() {
  const registration = await navigator.serviceWorker.getRegistration();
  const subscription = registration && (await registration.pushManager.getSubscription());
  localStorage.removeItem(WANTED_KEY);
  if (!subscription) return;
  await api('DELETE', '/api/push/subscriptions', { endpoint: subscription.endpoint });
  await subscription.unsubscribe();
  sessionStorage.removeItem(SYNCED_KEY);
}

// -- the settings section ------------------------------------------------------------------------------------

/** `hidden` alone loses to `.button { display: inline-flex }`; the CSSOM style is allowed by the CSP. */
function shown(element, visible) {
  element.hidden = !visible;
  element.style.display = visible ? '' : 'none';
}

/** When the last notification arrived, on the service's clock as every time on the phone is (a phone set to
    another zone shows the time its supervisor sees). */
const when = (iso) => formatMoment(iso);

/** What the settings section says of a reminder the server gave up on (its day and kind, from the
    subscriptions answer): DOMAIN §5, "then given up and shown in the app". */
function givenUpText(givenUp) {
  const kinds = {
    'overdue-digest': t('逾期提醒', 'overdue reminder'),
    escalation: t('督导提醒', 'supervision reminder'),
  };
  const kind = kinds[givenUp.kind] || t('提醒', 'reminder');
  const day = formatDate(givenUp.day);
  return t(`${day}的${kind}未能送达手机。逾期数量请看每页顶部；可发送测试通知检查。`,
    `The ${kind} of ${day} could not be delivered to this phone. The overdue count is at the top of every page; send a test notification to check.`);
}

function setupSettings(section) {
  const status = section.querySelector('#push-status');
  const last = section.querySelector('#push-last');
  const hint = section.querySelector('#push-hint');
  const missed = section.querySelector('#push-missed');
  let givenUp = null; // the latest reminder given up, as the server last said
  const buttons = { on: section.querySelector('#push-on'), off: section.querySelector('#push-off'),
    test: section.querySelector('#push-test') };

  function show(state, { lastSuccessAt, message, hintText, detail } = {}) {
    section.dataset.state = state;
    if (missed) {
      missed.textContent = givenUp ? givenUpText(givenUp) : '';
      shown(missed, state === 'on' && Boolean(givenUp));
    }
    status.title = detail || '';
    const texts = {
      on: t('通知已开启：每天早上收到逾期随访提醒。', 'Notifications are on: overdue visits are announced every morning.'),
      off: t('通知未开启。开启后，每天早上收到逾期随访提醒。', 'Notifications are off. Turn them on to hear of overdue visits every morning.'),
      blocked: t('通知已被浏览器阻止。请在浏览器的网站设置中允许“通知”，然后回到此页。',
        'Notifications are blocked. Allow notifications for this site in the browser settings, then come back.'),
      unsupported: t('此浏览器无法接收通知。逾期数量仍显示在每页顶部。',
        'This browser cannot receive notifications. The overdue count still shows at the top of every page.'),
      unavailable: t('服务器暂未开启通知。逾期数量仍显示在每页顶部。',
        'The server has notifications turned off. The overdue count still shows at the top of every page.'),
      working: t('请稍候…', 'Please wait…'),
    };
    status.textContent = message || texts[state];
    shown(buttons.on, state === 'off');
    shown(buttons.off, state === 'on');
    shown(buttons.test, state === 'on');
    shown(last, state === 'on');
    if (state === 'on') {
      if (lastSuccessAt !== undefined) {
        last.textContent = lastSuccessAt
          ? t(`上次送达：${when(lastSuccessAt)}`, `Last delivered: ${when(lastSuccessAt)}`)
          : t('尚未送达过通知，可发送测试通知试试。', 'Nothing delivered yet: send yourself a test.');
      }
    }
    hint.textContent = hintText || '';
    shown(hint, Boolean(hintText));
  }

  function unsupportedHint() {
    if (isIos() && !isStandalone()) {
      return t('在 iPhone 上：请先在 Safari 中点“分享”→“添加到主屏幕”，再从主屏幕打开随访，即可开启通知。',
        'On an iPhone: in Safari tap Share → Add to Home Screen, then open Suifang from the Home Screen to turn notifications on.');
    }
    if (isInAppBrowser()) {
      return t('微信等应用内的浏览器不能接收通知：请点右上角“…”，选择“在浏览器打开”。',
        'Browsers inside apps such as WeChat cannot receive notifications: open this page in the browser.');
    }
    return '';
  }

  /** Why the sign-up failed, in the user's language; the browser's own (English) error stays in the status's
   * title and the console. A subscribe refused by the browser usually means it has no push service (phones
   * without Google services); a fetch that failed means no connection. */
  function failureText(err) {
    console.warn('push sign-up failed', err);
    if (err && err.forUser) return err.message;
    if (err instanceof TypeError || !navigator.onLine) {
      return t('暂时无法连接服务器，请稍后再试。', 'Cannot reach the server right now; try again later.');
    }
    return t('未能开启通知：这部手机的浏览器没有可用的推送服务（没有谷歌服务的手机上很常见）。逾期随访仍会显示在“今日工作”和每页顶部。',
      'Could not turn notifications on: this phone’s browser has no push service (common on phones without Google services). Overdue visits still show on Today and at the top of every page.');
  }

  async function refresh() {
    const supported = support();
    if (supported !== 'ok') {
      show(supported, { hintText: supported === 'unsupported' ? unsupportedHint() : '' });
      return;
    }
    try {
      const saved = Notification.permission === 'granted' ? await resync({ force: true }) : null;
      givenUp = (saved && saved.givenUp) || null;
      if (saved) show('on', { lastSuccessAt: saved.lastSuccessAt || null });
      else show('off');
    } catch (err) {
      if (err instanceof PushUnavailable) show('unavailable');
      else show('off', { message: t('暂时无法连接服务器，请稍后再试。', 'Cannot reach the server right now; try again later.') });
    }
  }

  buttons.on.addEventListener('click', () => {
    // Ask inside the tap itself, before anything is awaited: iOS and Chrome only prompt from a user gesture.
    const asked = 'Notification' in window ? Notification.requestPermission() : Promise.resolve('denied');
    show('working');
    turnOn(asked).then((result) => {
      if (result.state === 'on') {
        givenUp = result.givenUp || null;
        show('on', { lastSuccessAt: result.lastSuccessAt || null });
      } else {
        show(result.state);
      }
    }).catch((err) => {
      if (err instanceof PushUnavailable) show('unavailable');
      else show('off', { message: failureText(err), detail: String((err && err.message) || err) });
    });
  });

  buttons.off.addEventListener('click', () => {
    show('working');
    turnOff().then(() => show('off')).catch(() => refresh());
  });

  buttons.test.addEventListener('click', async () => {
    buttons.test.disabled = true;
    try {
      const answer = await api('POST', '/api/push/test');
      if (answer.ok) {
        show('on', { lastSuccessAt: answer.data.lastSuccessAt,
          message: t('测试通知已发送，请查看手机通知栏。', 'Test sent: look at your notifications.') });
      } else if (answer.status === 409) {
        await refresh();
      } else {
        show('on', { message: t('推送服务没有接受测试通知，请稍后再试。', 'The push service did not accept the test; try again later.') });
      }
    } catch (err) {
      show('on', { message: t('暂时无法连接服务器，请稍后再试。', 'Cannot reach the server right now; try again later.') });
    } finally {
      buttons.test.disabled = false;
    }
  });

  section.hidden = false;
  refresh();
}

// -- every page load -----------------------------------------------------------------------------------------

if (!window.suifangPushStarted) {
  window.suifangPushStarted = true;
  const section = document.getElementById('push-settings');
  if (section) setupSettings(section);
  else resync().catch(() => { /* offline or signed out: next time */ });
}
