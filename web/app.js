// Lookalike web UI: query by image, results with decisions, heatmaps and a compare view.
// Plain ES modules, no build step, no dependencies; they talk to the JSON API of
// `lookalike serve`. This file wires the modules in js/ together and starts the page.

import { describeCollection, loadCollections, loadHealth } from './js/collections.js';
import { closeCompare, setupCompare } from './js/compare.js';
import { describeMethod, loadExplainers } from './js/explainers.js';
import { clearError } from './js/messages.js';
import { clearQuery, newQuery, renderQuery, setupQueryInputs } from './js/query.js';
import { refreshShownMaps, renderResults } from './js/results.js';
import { refreshSuggestions, search } from './js/search.js';
import { el, state } from './js/state.js';

function init() {
  setupQueryInputs();
  setupCompare();
  el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    search();
  });
  el.collection.addEventListener('change', () => {
    localStorage.setItem('lookalike.collection', el.collection.value);
    describeCollection();
    state.labels.clear();
    refreshSuggestions();
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
