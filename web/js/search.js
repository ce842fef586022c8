// Searching: the options form, the request, and "show more".

import { api, ApiError, collectionPath } from './api.js';
import { currentCollection } from './collections.js';
import { clearError, progress, showError } from './messages.js';
import { renderResults } from './results.js';
import { el, state } from './state.js';

/** `label=sneaker, color=red` (or a JSON object) -> {label: "sneaker", color: "red"}. */
export function parseFilter(text) {
  text = text.trim();
  if (!text) return null;
  if (text.startsWith('{')) {
    let obj;
    try {
      obj = JSON.parse(text);
    } catch {
      throw new ApiError(0, 'bad_filter', 'The filter is not valid JSON.');
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new ApiError(0, 'bad_filter', 'The filter must be a JSON object.');
    return obj;
  }
  const filter = {};
  for (const part of text.split(/[,;\n]/)) {
    if (!part.trim()) continue;
    const i = part.indexOf('=');
    const key = i > 0 ? part.slice(0, i).trim() : '';
    if (!key) throw new ApiError(0, 'bad_filter', `Bad filter "${part.trim()}": write key=value, e.g. label=sneaker.`);
    filter[key] = part.slice(i + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return filter;
}

function readParams() {
  const k = Number.parseInt(el.k.value, 10);
  if (!Number.isFinite(k) || k < 1) throw new ApiError(0, 'bad_k', 'k must be a whole number of at least 1.');
  let minSim = null;
  if (el.minSim.value.trim() !== '') {
    minSim = Number(el.minSim.value);
    if (!Number.isFinite(minSim)) throw new ApiError(0, 'bad_min_similarity', 'The minimum similarity must be a number.');
  }
  return { collection: el.collection.value, k, filter: parseFilter(el.filter.value), minSim };
}

export function updateSearchButton() {
  el.searchButton.disabled = state.searching || !state.query || !el.collection.value;
  el.searchButton.textContent = state.searching ? 'Searching…' : 'Search';
  el.searchButton.setAttribute('aria-busy', state.searching ? 'true' : 'false');
}

function request(q, params, offset) {
  if (q.kind === 'file') {
    const form = new FormData();
    form.append('image', q.file, q.file.name || 'query');
    form.append('k', String(params.k));
    if (offset) form.append('offset', String(offset));
    if (params.filter) form.append('filter', JSON.stringify(params.filter));
    if (params.minSim !== null) form.append('min_similarity', String(params.minSim));
    return { method: 'POST', form };
  }
  const json = { id: q.id, k: params.k };
  if (offset) json.offset = offset;
  if (params.filter) json.filter = params.filter;
  if (params.minSim !== null) json.min_similarity = params.minSim;
  return { method: 'POST', json };
}

export async function search({ append = false } = {}) {
  if (!state.query) return;
  if (state.searching) {
    // The query changed while a search ran: search again once it is done.
    if (!append) state.again = true;
    return;
  }
  clearError();
  let params;
  try {
    params = append ? state.lastParams : readParams();
  } catch (e) {
    showError(e);
    return;
  }
  if (!params || !params.collection) {
    showError(new ApiError(0, 'client', 'Pick a collection first.'));
    return;
  }
  const offset = append ? state.hits.length : 0;
  const queryKey = state.queryKey;
  state.searching = true;
  updateSearchButton();
  el.empty.hidden = true;
  el.moreButton.disabled = true;
  const done = progress(`searching ${params.collection}…`);
  const wasBusy = el.results.getAttribute('aria-busy');
  el.results.setAttribute('aria-busy', 'true');
  try {
    const body = await api(`${collectionPath(params.collection)}/search`, request(state.query, params, offset));
    if (queryKey !== state.queryKey) return; // the query changed meanwhile
    state.lastParams = params;
    state.searched = true;
    state.threshold = typeof body.threshold === 'number' ? body.threshold : (currentCollection() || {}).threshold;
    if (!append) {
      state.novelty = body.novelty || null;
      state.outOfCatalogue = body.out_of_catalogue === true;
    }
    const hits = body.hits || [];
    state.hits = append ? state.hits.concat(hits) : hits;
    for (const h of hits) {
      const label = h.metadata && h.metadata.label;
      if (typeof label === 'string' || typeof label === 'number') state.labels.add(String(label));
    }
    refreshSuggestions();
    renderResults({ append, newHits: hits, offset });
    // A new result list starts at its top, wherever the page was scrolled to.
    const topbar = document.querySelector('.topbar').getBoundingClientRect().bottom;
    if (!append && el.results.getBoundingClientRect().top < topbar) window.scrollTo({ top: 0 });
    el.more.hidden = hits.length < params.k;
    const took = typeof body.took_ms === 'number' ? ` in ${body.took_ms.toFixed(1)} ms` : '';
    const same = state.hits.filter((h) => h.same).length;
    done(state.hits.length
      ? `${state.hits.length} result${state.hits.length === 1 ? '' : 's'}${took} · ${same} called the same`
      : `No results${took}.`);
  } catch (e) {
    done('');
    if (queryKey === state.queryKey) showError(e, 'Search failed');
  } finally {
    done('');
    state.searching = false;
    el.empty.hidden = state.hits.length > 0 || state.searched;
    el.moreButton.disabled = false;
    if (wasBusy === null) el.results.removeAttribute('aria-busy');
    updateSearchButton();
    if (state.again) {
      state.again = false;
      search();
    }
  }
}

export function refreshSuggestions() {
  el.suggestions.replaceChildren(...[...state.labels].sort().map((l) => new Option(`label=${l}`)));
}
