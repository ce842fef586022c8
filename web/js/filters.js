// The metadata filter: the text field holds conditions in the filter grammar of the CLI's
// `--filter` (`price<50, brand in (acme, globex), in_stock`), separated by commas outside
// brackets and quotes; each shows as a chip that removes it. The search sends them as the API's
// `filter` list (all must hold); the server checks them, and a condition it refuses is marked.
// A JSON object of equalities (`{"label": "bag"}`), as the API takes it, is read too.

import { ApiError } from './api.js';
import { h } from './dom.js';
import { el } from './state.js';

let onChange = () => {};

/** `a=1, b in (x, y); c` -> ['a=1', 'b in (x, y)', 'c']: split at top-level `,`, `;`, newlines. */
export function splitConditions(text) {
  const out = [];
  let depth = 0;
  let quote = null;
  let start = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '(' || c === '[') depth += 1;
    else if ((c === ')' || c === ']') && depth > 0) depth -= 1;
    else if (depth === 0 && (c === ',' || c === ';' || c === '\n')) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter(Boolean);
}

/** A value as the grammar reads it back: quoted when it holds a separator or spaces at its ends. */
export function quoteValue(v) {
  const s = String(v);
  if (!/[,;()[\]"']|^\s|\s$/.test(s) && s !== '') return s;
  return s.includes('"') ? `'${s}'` : `"${s}"`;
}

/** `{"label": "bag", "colour": ["red", "blue"]}` -> ['label=bag', 'colour in (red, blue)']. */
function objectConditions(text) {
  let obj;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new ApiError(0, 'bad_filter', 'The filter is not valid JSON.');
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new ApiError(0, 'bad_filter', 'The filter must be a JSON object.');
  return Object.entries(obj).map(([k, v]) => (Array.isArray(v)
    ? `${k} in (${v.map(quoteValue).join(', ')})`
    : `${k}=${quoteValue(v)}`));
}

/** The conditions of the text field (throws an ApiError for a JSON object that is not one). */
export function conditions() {
  const text = el.filter.value.trim();
  if (!text) return [];
  return text.startsWith('{') ? objectConditions(text) : splitConditions(text);
}

/** The API's `filter`: the list of conditions, or null for none. */
export function readFilter() {
  const list = conditions();
  return list.length ? list : null;
}

function setConditions(list) {
  el.filter.value = list.join(', ');
  renderChips();
}

/** Appends a condition (from the builder) to the field. */
export function addCondition(text) {
  let list;
  try {
    list = conditions();
  } catch {
    list = []; // a broken JSON object is replaced
  }
  setConditions([...list, text]);
  onChange();
}

export function renderChips() {
  let list;
  try {
    list = conditions();
  } catch {
    list = [];
  }
  el.filterChips.replaceChildren(...list.map((c, i) => h('li', { class: 'chip', 'data-testid': 'filter-chip', 'data-condition': c },
    h('code', { class: 'chip-text', text: c }),
    h('button', {
      type: 'button',
      class: 'chip-remove',
      'data-testid': 'filter-chip-remove',
      'aria-label': `Remove the filter ${c}`,
      title: 'Remove this filter',
      text: '×',
      onclick: () => {
        setConditions(list.filter((_, j) => j !== i));
        onChange();
      },
    }))));
  el.filterChips.hidden = list.length === 0;
}

/** Says, under the field, why the server (or the page) refused the filter, and marks the
 *  condition it names (the message quotes it: `bad filter "price<<3": …`); null clears. */
export function markBadFilter(message) {
  el.filterError.hidden = !message;
  el.filterError.textContent = message || '';
  const m = /bad filter "((?:[^"\\]|\\.)*)"/.exec(message || '');
  const bad = m ? m[1].replace(/\\(.)/g, '$1') : null;
  for (const chip of el.filterChips.children) {
    const hit = bad !== null && chip.dataset.condition === bad;
    chip.classList.toggle('bad', hit);
    if (hit) chip.setAttribute('aria-invalid', 'true');
    else chip.removeAttribute('aria-invalid');
  }
}

export function setupFilters({ changed }) {
  onChange = changed;
  el.filter.addEventListener('input', renderChips);
  renderChips();
}
