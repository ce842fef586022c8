// Searching: the options form (with the filter, the region and grouping), the request, and
// "show more".

import { api, ApiError, collectionPath } from './api.js';
import { currentCollection } from './collections.js';
import { refreshKeys } from './filter-builder.js';
import { markBadFilter, readFilter } from './filters.js';
import { clearError, progress, showError } from './messages.js';
import { GROUP_KEY, groupsToHits } from './products.js';
import { regionParams, showRegion } from './region.js';
import { renderResults } from './results.js';
import { el, state } from './state.js';

/** Metadata the collection writes itself: no use in a filter. */
const INTERNAL_KEYS = new Set(['path', 'sha256', 'width', 'height', 'feed_hash', 'image_link']);

function readParams() {
  const k = Number.parseInt(el.k.value, 10);
  if (!Number.isFinite(k) || k < 1) throw new ApiError(0, 'bad_k', 'k must be a whole number of at least 1.');
  let minSim = null;
  if (el.minSim.value.trim() !== '') {
    minSim = Number(el.minSim.value);
    if (!Number.isFinite(minSim)) throw new ApiError(0, 'bad_min_similarity', 'The minimum similarity must be a number.');
  }
  return {
    collection: el.collection.value,
    k,
    filter: readFilter(),
    minSim,
    ...regionParams(),
    groupBy: el.groupBy.checked ? GROUP_KEY : null,
  };
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
    if (params.crop) form.append('crop', params.crop.join(','));
    if (params.autoCrop) form.append('auto_crop', 'true');
    if (params.groupBy) form.append('group_by', params.groupBy);
    return { method: 'POST', form };
  }
  const json = { id: q.id, k: params.k };
  if (offset) json.offset = offset;
  if (params.filter) json.filter = params.filter;
  if (params.minSim !== null) json.min_similarity = params.minSim;
  if (params.crop) json.crop = params.crop;
  if (params.autoCrop) json.auto_crop = true;
  if (params.groupBy) json.group_by = params.groupBy;
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
  markBadFilter(null);
  let params;
  try {
    params = append ? state.lastParams : readParams();
  } catch (e) {
    showError(e);
    if (e.code === 'bad_filter') markBadFilter(e.message);
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
    state.grouped = Array.isArray(body.groups);
    state.usedCrop = body.crop || null;
    state.threshold = typeof body.threshold === 'number' ? body.threshold : (currentCollection() || {}).threshold;
    if (!append) {
      state.novelty = body.novelty || null;
      state.outOfCatalogue = body.out_of_catalogue === true;
    }
    const hits = state.grouped ? groupsToHits(body.groups) : (body.hits || []);
    state.hits = append ? state.hits.concat(hits) : hits;
    learnMetadata(hits);
    showRegion();
    renderResults({ append, newHits: hits, offset });
    // A new result list starts at its top, wherever the page was scrolled to.
    const topbar = document.querySelector('.topbar').getBoundingClientRect().bottom;
    if (!append && el.results.getBoundingClientRect().top < topbar) window.scrollTo({ top: 0 });
    el.more.hidden = hits.length < params.k;
    const took = typeof body.took_ms === 'number' ? ` in ${body.took_ms.toFixed(1)} ms` : '';
    const same = state.hits.filter((h) => h.same).length;
    const n = state.hits.length;
    const noun = state.grouped ? `product${n === 1 ? '' : 's'}` : `result${n === 1 ? '' : 's'}`;
    done(n ? `${n} ${noun}${took} · ${same} called the same` : `No results${took}.`);
  } catch (e) {
    done('');
    if (queryKey === state.queryKey) {
      showError(e, 'Search failed');
      // The server's 400 about the filter is said again under the field that holds it.
      if (e.status === 400 && /\bfilter\b/.test(e.message)) markBadFilter(e.message);
    }
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

/** The labels (for the filter's suggestions) and the metadata keys (for the builder) of hits. */
function learnMetadata(hits) {
  for (const hit of hits) {
    const m = hit.metadata || {};
    if (typeof m.label === 'string' || typeof m.label === 'number') state.labels.add(String(m.label));
    for (const key of Object.keys(m)) if (!INTERNAL_KEYS.has(key)) state.metaKeys.add(key);
  }
  refreshSuggestions();
  refreshKeys();
}

export function refreshSuggestions() {
  el.suggestions.replaceChildren(...[...state.labels].sort().map((l) => new Option(`label=${l}`)));
}
