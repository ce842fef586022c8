// The "Add a filter" row: a key (the metadata keys seen on results are offered), an operator
// of the filter grammar and its value(s); "Add" writes the condition into the filter field as the
// grammar spells it, so that what one clicks together is what one could have typed.

import { addCondition, quoteValue } from './filters.js';
import { el, state } from './state.js';

/** Each operator: its label, how many values it takes, and the condition it writes. */
const OPERATORS = [
  ['=', 'is (=)', 1, (k, a) => `${k}=${quoteValue(a)}`],
  ['!=', 'is not (!=)', 1, (k, a) => `${k}!=${quoteValue(a)}`],
  ['<', '< less than', 1, (k, a) => `${k}<${a}`],
  ['<=', '≤ at most', 1, (k, a) => `${k}<=${a}`],
  ['>', '> more than', 1, (k, a) => `${k}>${a}`],
  ['>=', '≥ at least', 1, (k, a) => `${k}>=${a}`],
  ['between', 'between (≤ … ≤)', 2, (k, a, b) => `${a}<=${k}<=${b}`],
  ['in', 'one of (in)', 1, (k, a) => `${k} in (${setOf(a)})`],
  ['not in', 'none of (not in)', 1, (k, a) => `${k} not in (${setOf(a)})`],
  ['true', 'is true', 0, (k) => k],
  ['false', 'is false', 0, (k) => `${k}=false`],
  ['exists', 'exists', 0, (k) => `${k} exists`],
  ['missing', 'is missing (not exists)', 0, (k) => `not ${k} exists`],
];

/** `a, b ,c` -> `a, b, c` (each value quoted as needed). */
const setOf = (text) => text.split(',').map((v) => v.trim()).filter(Boolean).map(quoteValue).join(', ');

/** The condition the builder's fields spell: `20<=price<=80`, `brand in (a, b)`, … */
export function builtCondition(key, op, a = '', b = '') {
  const entry = OPERATORS.find(([name]) => name === op);
  if (!entry) return null;
  return entry[3](key.trim(), a.trim(), b.trim());
}

function arity() {
  return (OPERATORS.find(([name]) => name === el.filterOp.value) || [])[2] ?? 1;
}

function layout() {
  const n = arity();
  el.filterValue.hidden = n < 1;
  el.filterValue2.hidden = n < 2;
  el.filterValue.placeholder = n === 2 ? 'from' : (['in', 'not in'].includes(el.filterOp.value) ? 'a, b, c' : 'value');
}

function add() {
  const key = el.filterKey.value.trim();
  if (!key) {
    el.filterKey.focus();
    return;
  }
  addCondition(builtCondition(key, el.filterOp.value, el.filterValue.value, el.filterValue2.value));
  el.filterValue.value = '';
  el.filterValue2.value = '';
}

/** Offers the metadata keys seen on results. */
export function refreshKeys() {
  el.filterKeys.replaceChildren(...[...state.metaKeys].sort().map((k) => new Option(k)));
}

export function setupFilterBuilder() {
  el.filterOp.replaceChildren(...OPERATORS.map(([value, label]) => new Option(label, value)));
  el.filterOp.addEventListener('change', layout);
  el.filterAdd.addEventListener('click', add);
  // Enter in the builder adds the condition instead of submitting the search form.
  for (const input of [el.filterKey, el.filterValue, el.filterValue2]) {
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        add();
      }
    });
  }
  layout();
}
