// What the page knows: the elements it works with and the state of the current query.

import { $ } from './dom.js';

export const el = {
  health: $('health'),
  form: $('search-form'),
  collection: $('collection-select'),
  collectionInfo: $('collection-info'),
  method: $('method-select'),
  methodInfo: $('method-info'),
  target: $('target-select'),
  masks: $('masks-input'),
  masksField: $('masks-field'),
  k: $('k-input'),
  minSim: $('min-sim-input'),
  filter: $('filter-input'),
  suggestions: $('filter-suggestions'),
  filterChips: $('filter-chips'),
  filterError: $('filter-error'),
  filterKey: $('filter-key'),
  filterKeys: $('filter-keys'),
  filterOp: $('filter-op'),
  filterValue: $('filter-value'),
  filterValue2: $('filter-value2'),
  filterAdd: $('filter-add'),
  autoCrop: $('auto-crop'),
  groupBy: $('group-by'),
  searchButton: $('search-button'),
  dropzone: $('dropzone'),
  fileInput: $('file-input'),
  dropEmpty: $('dropzone-empty'),
  preview: $('query-preview'),
  queryImage: $('query-image'),
  queryName: $('query-name'),
  queryClear: $('query-clear'),
  regionFrame: $('region-frame'),
  regionBox: $('region-box'),
  regionTag: $('region-tag'),
  regionInfo: $('region-info'),
  regionBar: $('region-bar'),
  regionClear: $('region-clear'),
  error: $('error'),
  errorMessage: $('error-message'),
  errorDetail: $('error-detail'),
  errorClose: $('error-close'),
  status: $('status'),
  novelty: $('novelty'),
  noveltyMessage: $('novelty-message'),
  noveltyDetail: $('novelty-detail'),
  empty: $('empty-state'),
  results: $('results'),
  more: $('more'),
  moreButton: $('more-button'),
  dialog: $('compare'),
};

export const state = {
  collections: [], // Collection objects from GET /api/collections
  // From GET /api/explainers: [{name, description, cost: {summary, …}}], the defaults, the limits.
  methods: [],
  defaultMethod: 'gradcam',
  targets: ['logit', 'probability'],
  defaultTarget: 'logit',
  maxMasks: null,
  // The query: {kind: 'file', file, name, url} or {kind: 'id', id, label, url}; null when none.
  query: null,
  queryKey: 0, // bumps whenever the query changes: explanation caches are per query
  hits: [], // the shown hits; in a grouped search each best image, with `group` and `other_ids`
  grouped: false, // the shown results are products (group_by), not images
  // The box drawn on the query, [x, y, w, h] in fractions of the image; null for the whole image.
  region: null,
  usedCrop: null, // the last search's `crop`: the box the server used, in pixels (null: whole)
  novelty: null, // the last search's `novelty` (null when the collection cannot judge)
  outOfCatalogue: false,
  threshold: null, // the model's distance threshold: same when 1 − similarity < threshold
  lastParams: null, // the parameters of the last search, for "show more"
  searching: false,
  again: false, // search again when the running search ends (the query changed meanwhile)
  searched: false, // a search for the current query came back
  explanations: new Map(), // `${queryKey}|${box}|${hit}|${method}|${layer}|${target}|${masks}` -> Promise
  labels: new Set(),
  metaKeys: new Set(), // metadata keys seen on hits, offered by the filter builder
};
