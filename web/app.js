// Lookalike web UI: query by image (or by a region of it), filters, products, results with
// decisions, heatmaps and a compare view.
// Plain ES modules, no build step, no dependencies; they talk to the JSON API of
// `lookalike serve`. This file wires the modules in js/ together and starts the page.

import { describeCollection, loadCollections, loadHealth } from './js/collections.js';
import { closeCompare, setupCompare } from './js/compare.js';
import { describeMethod, loadExplainers } from './js/explainers.js';
import { refreshKeys, setupFilterBuilder } from './js/filter-builder.js';
import { setupFilters } from './js/filters.js';
import { clearError } from './js/messages.js';
import { clearQuery, newQuery, renderQuery, setupQueryInputs } from './js/query.js';
import { setupRegion } from './js/region.js';
import { refreshShownMaps, renderResults } from './js/results.js';
import { refreshSuggestions, search } from './js/search.js';
import { el, state } from './js/state.js';

/** A changed filter, region or grouping searches again when there is a query. */
function searchAgain() {
  if (state.query) search();
}

function init() {
  setupQueryInputs();
  setupCompare();
  setupRegion({ changed: searchAgain });
  setupFilters({ changed: searchAgain });
  setupFilterBuilder();
  el.groupBy.addEventListener('change', searchAgain);
  el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    search();
  });
  el.collection.addEventListener('change', () => {
    localStorage.setItem('lookalike.collection', el.collection.value);
    describeCollection();
    state.labels.clear();
    state.metaKeys.clear();
    refreshSuggestions();
    refreshKeys();
    closeCompare();
    // A "more like this" query is an id in the old collection: it means nothing here.
    if (state.query && state.query.kind === 'id') clearQuery();
    else if (state.query) {
      newQuery();
      search();
    }
  });
  el.method.addEventListener('change', () => {
    describeMethod();
    refreshShownMaps();
  });
  el.target.addEventListener('change', refreshShownMaps);
  el.masks.addEventListener('change', refreshShownMaps);
  el.moreButton.addEventListener('click', () => search({ append: true }));
  el.errorClose.addEventListener('click', clearError);
  renderQuery();
  renderResults();
  loadHealth();
  Promise.all([loadExplainers(), loadCollections()]).then(() => {
    document.body.dataset.ready = 'true';
  });
}

init();
