// The page's banner (#banner): several messages can show at once, each under its own key.
import { el } from './labels.js';

const banners = new Map();

/** Put (or with null, remove) one message in #banner. */
export function setBanner(key, node) {
  if (node) banners.set(key, node);
  else banners.delete(key);
  const banner = document.getElementById('banner');
  if (!banner) return;
  banner.replaceChildren(...[...banners.values()].map((n) => el('p', {}, n)));
  banner.hidden = banners.size === 0;
}
