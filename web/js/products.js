// Grouped results (`group_by: "product"`): one card per product, its best-matching image with
// the product id and its other images (how many, and their ids) under it.

import { h } from './dom.js';

/** The key a grouped search groups by. */
export const GROUP_KEY = 'product';

/** A grouped answer's `groups` as the hits the result cards show: each the group's best image,
 *  carrying its `group` and `other_ids`. */
export function groupsToHits(groups) {
  return (groups || []).map((g) => ({ ...g.best, group: g.group, other_ids: g.other_ids || [] }));
}

/** The most other ids a card lists before it says "and N more". */
const SHOWN_IDS = 6;

/** The card's product line: "product SKU-1 · 3 more images: #4, #5, #9". */
export function productLine(hit) {
  const others = hit.other_ids || [];
  const product = hit.group === null || hit.group === undefined
    ? h('span', { class: 'product-id none', 'data-testid': 'result-product', text: `no ${GROUP_KEY}` })
    : h('span', { class: 'product-id', 'data-testid': 'result-product', title: String(hit.group), text: String(hit.group) });
  const ids = others.slice(0, SHOWN_IDS).map((id) => `#${id}`).join(', ');
  const rest = others.length > SHOWN_IDS ? ` and ${others.length - SHOWN_IDS} more` : '';
  const count = others.length
    ? `+${others.length} other image${others.length === 1 ? '' : 's'}`
    : 'no other image';
  return h('div', { class: 'product-line', 'data-testid': 'result-group', 'data-others': others.join(',') },
    product,
    h('span', {
      class: 'product-others',
      'data-testid': 'result-others',
      title: others.length ? `The product's other images that match: ${others.map((id) => `#${id}`).join(', ')}` : null,
      text: others.length ? `${count}: ${ids}${rest}` : count,
    }));
}
