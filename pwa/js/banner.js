// The page's banner (#banner): several messages can show at once, each under its own key. The banner is a
// polite live region (aria-live) that is always in the page, empty and so of no height when it says nothing:
// a region hidden until its message arrives is not announced by screen readers.
import { el } from './labels.js';

const banners = new Map();

/** Put (or with null, remove) one message in #banner. */
export function setBanner(key, node) {
  if (node) banners.set(key, node);
  else banners.delete(key);
  const banner = document.getElementById('banner');
  if (!banner) return;
  banner.replaceChildren(...[...banners.values()].map((n) => el('p', {}, n)));
}
