// The explainer picker: every method of GET /api/explainers with its cost, the explained score
// (the head's logit or the probability), and the number of RISE masks.

import { api, ApiError } from './api.js';
import { showError } from './messages.js';
import { el, state } from './state.js';

export async function loadExplainers() {
  let body;
  try {
    body = await api('/api/explainers');
  } catch (e) {
    body = { default: 'gradcam', methods: [{ name: 'gradcam', description: 'Grad-CAM' }] };
    showError(e, 'Could not load the explanation methods');
  }
  state.methods = body.methods || [];
  state.defaultMethod = body.default || (state.methods[0] && state.methods[0].name) || 'gradcam';
  state.targets = Array.isArray(body.targets) && body.targets.length ? body.targets : ['logit'];
  state.defaultTarget = body.default_target || state.targets[0];
  state.maxMasks = Number.isInteger(body.max_masks) ? body.max_masks : null;
  state.costGrid = body.cost_grid || '';
  fillMethods(el.method, state.defaultMethod);
  fillTargets(el.target, state.defaultTarget);
  if (state.maxMasks) {
    el.masks.max = String(state.maxMasks);
    el.masks.placeholder = `default (≤ ${state.maxMasks})`;
  }
  describeMethod();
}

/** The method's cost in words, as the server states it. */
export function costOf(name) {
  const m = state.methods.find((x) => x.name === name);
  return (m && m.cost && m.cost.summary) || '';
}

export function fillMethods(select, selected) {
  select.replaceChildren(...state.methods.map((m) => {
    const o = new Option(m.name, m.name, false, m.name === selected);
    const cost = m.cost && m.cost.summary;
    o.title = [m.description, cost && `cost: ${cost}`].filter(Boolean).join(' · ');
    return o;
  }));
}

export function fillTargets(select, selected) {
  const words = {
    logit: "the head's logit: never saturates, so far-away pairs get maps too",
    probability: 'the probability of "same", as in the paper: saturates for far-away pairs',
  };
  select.replaceChildren(...state.targets.map((t) => {
    const o = new Option(t, t, false, t === selected);
    if (words[t]) o.title = words[t];
    return o;
  }));
}

/** The method's description and cost under the picker; the masks field only for RISE. */
export function describeMethod() {
  const m = state.methods.find((x) => x.name === el.method.value);
  el.methodInfo.replaceChildren();
  if (m && m.description) el.methodInfo.append(document.createTextNode(m.description));
  const cost = costOf(el.method.value);
  if (cost) {
    const c = document.createElement('span');
    c.className = 'cost';
    c.dataset.testid = 'method-cost';
    c.textContent = `Cost: ${cost}`;
    if (state.costGrid) c.title = state.costGrid;
    el.methodInfo.append(c);
  }
  el.masksField.hidden = !usesMasks(el.method.value);
}

export const usesMasks = (method) => method === 'rise';

/** Reads a masks field: null for the server's default, else a whole number within the limit. */
export function readMasks(input, method) {
  if (!usesMasks(method) || input.value.trim() === '') return null;
  const n = Number(input.value);
  if (!Number.isInteger(n) || n < 1) throw new ApiError(0, 'bad_masks', 'The number of RISE masks must be a whole number of at least 1.');
  if (state.maxMasks && n > state.maxMasks) {
    throw new ApiError(0, 'bad_masks', `At most ${state.maxMasks} RISE masks: this server's limit.`);
  }
  return n;
}

/** The sidebar's choice: {method, target, masks}. Throws an ApiError on a bad masks field. */
export function sidebarChoice() {
  const method = el.method.value || state.defaultMethod;
  return { method, target: el.target.value || state.defaultTarget, masks: readMasks(el.masks, method) };
}
