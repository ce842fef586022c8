// The server's health and the collection picker.

import { api } from './api.js';
import { showError } from './messages.js';
import { updateSearchButton } from './search.js';
import { el, state } from './state.js';

export async function loadHealth() {
  try {
    const h = await api('/healthz');
    el.health.classList.add('ok');
    el.health.classList.remove('down');
    el.health.querySelector('.health-text').textContent =
      `connected · ${h.collections} collection${h.collections === 1 ? '' : 's'}`;
  } catch {
    el.health.classList.add('down');
    el.health.classList.remove('ok');
    el.health.querySelector('.health-text').textContent = 'server unreachable';
  }
}

export async function loadCollections() {
  let body;
  try {
    body = await api('/api/collections');
  } catch (e) {
    showError(e, 'Could not load the collections');
    return;
  }
  state.collections = body.collections || [];
  if (!state.collections.length) {
    el.collection.replaceChildren(new Option('no collections', '', true, true));
    el.collection.disabled = true;
    el.collectionInfo.textContent = 'Create one with `lookalike index create NAME` and add images with `lookalike index add`.';
    updateSearchButton();
    return;
  }
  const remembered = localStorage.getItem('lookalike.collection');
  const pick = state.collections.some((c) => c.name === remembered) ? remembered : state.collections[0].name;
  el.collection.replaceChildren(...state.collections.map((c) =>
    new Option(`${c.name}`, c.name, false, c.name === pick)));
  el.collection.disabled = false;
  describeCollection();
  updateSearchButton();
}

export function currentCollection() {
  return state.collections.find((c) => c.name === el.collection.value) || null;
}

export function describeCollection() {
  const c = currentCollection();
  if (!c) {
    el.collectionInfo.textContent = '';
    return;
  }
  const parts = [];
  if (typeof c.images === 'number') parts.push(`${c.images.toLocaleString()} image${c.images === 1 ? '' : 's'}`);
  if (c.model) parts.push(`model ${c.model}`);
  if (typeof c.threshold === 'number') parts.push(`same when distance < ${c.threshold.toFixed(2)}`);
  el.collectionInfo.textContent = parts.join(' · ');
}
