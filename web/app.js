// Lookalike web UI: query by image, results with decisions, heatmaps and a compare view.
// Plain ES module, no build step, no dependencies; talks to the JSON API of `lookalike serve`.

const $ = (id) => document.getElementById(id);

const el = {
  health: $('health'),
  form: $('search-form'),
  collection: $('collection-select'),
  collectionInfo: $('collection-info'),
  method: $('method-select'),
  methodInfo: $('method-info'),
  k: $('k-input'),
  minSim: $('min-sim-input'),
  filter: $('filter-input'),
  suggestions: $('filter-suggestions'),
  searchButton: $('search-button'),
  dropzone: $('dropzone'),
  fileInput: $('file-input'),
  dropEmpty: $('dropzone-empty'),
  preview: $('query-preview'),
  queryImage: $('query-image'),
  queryName: $('query-name'),
  queryClear: $('query-clear'),
  error: $('error'),
  errorMessage: $('error-message'),
  errorDetail: $('error-detail'),
  errorClose: $('error-close'),
  status: $('status'),
  empty: $('empty-state'),
  results: $('results'),
  more: $('more'),
  moreButton: $('more-button'),
  dialog: $('compare'),
};

const state = {
  collections: [], // Collection objects from GET /api/collections
  methods: [], // {name, description}
  defaultMethod: 'gradcam',
  // The query: {kind: 'file', file, name, url} or {kind: 'id', id, label, url}; null when none.
  query: null,
  queryKey: 0, // bumps whenever the query changes: explanation caches are per query
  hits: [],
  threshold: null, // the model's distance threshold: same when 1 − similarity < threshold
  lastParams: null, // the parameters of the last search, for "show more"
  searching: false,
  again: false, // search again when the running search ends (the query changed meanwhile)
  searched: false, // a search for the current query came back
  explanations: new Map(), // `${queryKey}|${hit}|${method}|${layer}` -> Promise<Explanation>
  labels: new Set(),
};

// ---------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API; resolves to the JSON body, or throws an ApiError with the server's message. */
async function api(path, { method = 'GET', json, form } = {}) {
  const init = { method, headers: { Accept: 'application/json' } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['Content-Type'] = 'application/json';
  } else if (form) {
    init.body = form;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network',
      'Network error: the Lookalike server could not be reached. Is `lookalike serve` still running?');
  }
  const text = await res.text().catch(() => '');
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = body && body.error;
    const message = (err && err.message) || text.trim() || res.statusText || 'Request failed';
    throw new ApiError(res.status, (err && err.code) || 'http_error', message);
  }
  if (body === null) throw new ApiError(res.status, 'bad_response', 'The server answered with something that is not JSON.');
  return body;
}

const enc = encodeURIComponent;
const collectionPath = (name) => `/api/collections/${enc(name)}`;

// ---------------------------------------------------------------------------------------------
// Messages

function showError(err, context) {
  const e = err instanceof ApiError ? err : new ApiError(0, 'client', String(err && err.message || err));
  el.errorMessage.textContent = context ? `${context}: ${e.message}` : e.message;
  el.errorDetail.textContent = e.status ? `HTTP ${e.status} · ${e.code}` : (e.code === 'network' ? 'no response' : '');
  el.error.hidden = false;
}

function clearError() {
  el.error.hidden = true;
  el.errorMessage.textContent = '';
  el.errorDetail.textContent = '';
}

let statusOwner = 0;
/**
 * Shows a progress line (a spinner and the seconds elapsed) until the returned function runs; it
 * then shows `done`. The latest caller owns the line: an older one finishing leaves it alone.
 */
function progress(text) {
  const owner = ++statusOwner;
  const started = performance.now();
  const render = () => {
    if (owner !== statusOwner) return;
    const s = Math.floor((performance.now() - started) / 1000);
    el.status.replaceChildren(spinner(), document.createTextNode(s >= 1 ? `${text} ${s} s` : text));
  };
  render();
  el.status.classList.add('busy');
  const timer = setInterval(render, 1000);
  let finished = false;
  return (done) => {
    if (finished) return;
    finished = true;
    clearInterval(timer);
    if (owner !== statusOwner) return;
    el.status.classList.remove('busy');
    el.status.textContent = done || '';
  };
}

function spinner() {
  const s = document.createElement('span');
  s.className = 'spinner';
  s.setAttribute('aria-hidden', 'true');
  return s;
}

// ---------------------------------------------------------------------------------------------
// Pickers

async function loadHealth() {
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

async function loadExplainers() {
  let body;
  try {
    body = await api('/api/explainers');
  } catch (e) {
    body = { default: 'gradcam', methods: [{ name: 'gradcam', description: 'Grad-CAM' }] };
    showError(e, 'Could not load the explanation methods');
  }
  state.methods = body.methods || [];
  state.defaultMethod = body.default || (state.methods[0] && state.methods[0].name) || 'gradcam';
  fillMethods(el.method, state.defaultMethod);
  describeMethod();
}

function fillMethods(select, selected) {
  select.replaceChildren(...state.methods.map((m) => {
    const o = new Option(m.name, m.name, false, m.name === selected);
    if (m.description) o.title = m.description;
    return o;
  }));
}

function describeMethod() {
  const m = state.methods.find((x) => x.name === el.method.value);
  el.methodInfo.textContent = m && m.description ? m.description : '';
}

async function loadCollections() {
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

function currentCollection() {
  return state.collections.find((c) => c.name === el.collection.value) || null;
}

function describeCollection() {
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

// ---------------------------------------------------------------------------------------------
// The query image

function setQueryFile(file, source) {
  if (!file) return;
  if (state.query && state.query.url && state.query.kind === 'file') URL.revokeObjectURL(state.query.url);
  const name = file.name && file.name !== 'image.png' ? file.name : `${source} image`;
  state.query = { kind: 'file', file, name, url: URL.createObjectURL(file) };
  newQuery();
  search();
}

function setQueryId(hit) {
  if (state.query && state.query.url && state.query.kind === 'file') URL.revokeObjectURL(state.query.url);
  state.query = { kind: 'id', id: hit.id, name: `more like #${hit.id} ${hitLabel(hit)}`, url: hit.image_url || hit.thumbnail_url };
  newQuery();
  search();
}

function newQuery() {
  state.queryKey += 1;
  state.explanations.clear();
  // The results (and their maps) belong to the old query: they go, so that nothing explains a
  // hit against a query it was not found for.
  state.hits = [];
  state.searched = false;
  renderQuery();
  renderResults();
}

function clearQuery() {
  if (state.query && state.query.kind === 'file') URL.revokeObjectURL(state.query.url);
  state.query = null;
  state.queryKey += 1;
  state.explanations.clear();
  state.hits = [];
  state.searched = false;
  renderQuery();
  renderResults();
  el.status.textContent = '';
  clearError();
}

function renderQuery() {
  const q = state.query;
  el.preview.hidden = !q;
  el.dropEmpty.hidden = !!q;
  el.dropzone.classList.toggle('has-query', !!q);
  if (q) {
    const isImage = q.kind === 'id' || (q.file.type || '').startsWith('image/') || !q.file.type;
    el.queryImage.hidden = !isImage;
    if (isImage) el.queryImage.src = q.url;
    else el.queryImage.removeAttribute('src');
    el.queryName.textContent = q.name;
    el.queryName.title = q.name;
  } else {
    el.queryImage.removeAttribute('src');
    el.queryName.textContent = '';
  }
  updateSearchButton();
}

function fileFromTransfer(dt) {
  if (!dt) return null;
  if (dt.files && dt.files.length) return dt.files[0];
  for (const item of dt.items || []) {
    if (item.kind === 'file') {
      const f = item.getAsFile();
      if (f) return f;
    }
  }
  return null;
}

function onDrop(e) {
  e.preventDefault();
  e.stopPropagation();
  el.dropzone.classList.remove('dragging');
  document.body.classList.remove('dragging');
  const file = fileFromTransfer(e.dataTransfer);
  if (file) {
    setQueryFile(file, 'dropped');
  } else {
    showError(new ApiError(0, 'client', 'Nothing to search with: drop an image file (PNG, JPEG, WebP…).'));
  }
}

function setupQueryInputs() {
  let depth = 0;
  const isFileDrag = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
  document.addEventListener('dragenter', (e) => {
    if (!isFileDrag(e)) return;
    depth += 1;
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) document.body.classList.remove('dragging');
  });
  document.addEventListener('dragover', (e) => {
    if (!isFileDrag(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  // A drop anywhere on the page is a query; the drop zone is where the page invites it.
  document.addEventListener('drop', (e) => {
    depth = 0;
    onDrop(e);
  });
  el.dropzone.addEventListener('dragover', (e) => {
    e.preventDefault();
    el.dropzone.classList.add('dragging');
  });
  el.dropzone.addEventListener('dragleave', () => el.dropzone.classList.remove('dragging'));
  el.dropzone.addEventListener('drop', (e) => {
    depth = 0;
    onDrop(e);
  });

  document.addEventListener('paste', (e) => {
    const file = fileFromTransfer(e.clipboardData);
    if (file) {
      e.preventDefault();
      setQueryFile(file, 'pasted');
    }
  });

  el.fileInput.addEventListener('change', () => {
    const file = el.fileInput.files && el.fileInput.files[0];
    if (file) setQueryFile(file, 'chosen');
    el.fileInput.value = '';
  });
  el.queryClear.addEventListener('click', clearQuery);
}

// ---------------------------------------------------------------------------------------------
// Searching

/** `label=sneaker, color=red` (or a JSON object) -> {label: "sneaker", color: "red"}. */
function parseFilter(text) {
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

function updateSearchButton() {
  el.searchButton.disabled = state.searching || !state.query || !el.collection.value;
  el.searchButton.textContent = state.searching ? 'Searching…' : 'Search';
  el.searchButton.setAttribute('aria-busy', state.searching ? 'true' : 'false');
}

async function search({ append = false } = {}) {
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
  const q = state.query;
  const queryKey = state.queryKey;
  let request;
  if (q.kind === 'file') {
    const form = new FormData();
    form.append('image', q.file, q.file.name || 'query');
    form.append('k', String(params.k));
    if (offset) form.append('offset', String(offset));
    if (params.filter) form.append('filter', JSON.stringify(params.filter));
    if (params.minSim !== null) form.append('min_similarity', String(params.minSim));
    request = { method: 'POST', form };
  } else {
    const json = { id: q.id, k: params.k };
    if (offset) json.offset = offset;
    if (params.filter) json.filter = params.filter;
    if (params.minSim !== null) json.min_similarity = params.minSim;
    request = { method: 'POST', json };
  }
  state.searching = true;
  updateSearchButton();
  el.empty.hidden = true;
  el.moreButton.disabled = true;
  const done = progress(`searching ${params.collection}…`);
  const wasBusy = el.results.getAttribute('aria-busy');
  el.results.setAttribute('aria-busy', 'true');
  try {
    const body = await api(`${collectionPath(params.collection)}/search`, request);
    if (queryKey !== state.queryKey) return; // the query changed meanwhile
    state.lastParams = params;
    state.searched = true;
    state.threshold = typeof body.threshold === 'number' ? body.threshold : (currentCollection() || {}).threshold;
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

function refreshSuggestions() {
  el.suggestions.replaceChildren(...[...state.labels].sort().map((l) => new Option(`label=${l}`)));
}

// ---------------------------------------------------------------------------------------------
// Results

function hitLabel(hit) {
  const m = hit.metadata || {};
  if (m.label !== undefined && m.label !== null) return String(m.label);
  if (m.external_id) return String(m.external_id);
  if (typeof m.path === 'string') return m.path.split(/[\\/]/).pop();
  return `image ${hit.id}`;
}

const clamp01 = (x) => Math.max(0, Math.min(1, x));

/** The similarity above which a pair is called the same: the threshold is on the distance 1 − s. */
function simCut(threshold) {
  return typeof threshold === 'number' && Number.isFinite(threshold) ? 1 - threshold : null;
}

/** A raw map value in few characters: 0, 0.42, 2.9e-3. */
function short(x) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '–';
  if (x === 0) return '0';
  return Math.abs(x) >= 0.01 && Math.abs(x) < 1000 ? String(Number(x.toPrecision(2))) : x.toExponential(1);
}

function fmt(x, digits = 3) {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–';
}

function badge(same) {
  const b = document.createElement('span');
  b.className = `badge ${same ? 'badge-same' : 'badge-diff'}`;
  b.textContent = same ? 'Same' : 'Different';
  return b;
}

function renderResults({ append = false, newHits = state.hits, offset = 0 } = {}) {
  el.empty.hidden = state.hits.length > 0 || state.searching || state.searched;
  if (!append) el.results.replaceChildren();
  if (!state.hits.length) {
    el.more.hidden = true;
    if (state.searched) {
      el.results.append(h('div', { class: 'no-results', 'data-testid': 'no-results' },
        h('strong', { text: 'No matches.' }),
        h('span', { text: ' Nothing in this collection passes the filter and the minimum similarity: loosen them, or try another image.' })));
    }
    return;
  }
  const frag = document.createDocumentFragment();
  newHits.forEach((hit, i) => frag.append(resultCard(hit, offset + i + 1)));
  el.results.append(frag);
}

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function moreIcon() {
  const svg = svgEl('svg', { viewBox: '0 0 24 24', width: 16, height: 16, 'aria-hidden': 'true' });
  svg.append(
    svgEl('rect', { x: 3, y: 3, width: 9, height: 9, rx: 2, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.8 }),
    svgEl('circle', { cx: 16, cy: 16, r: 4.2, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.8 }),
    svgEl('path', { d: 'M19.2 19.2 22 22', stroke: 'currentColor', 'stroke-width': 1.8, 'stroke-linecap': 'round' }));
  return svg;
}

function resultCard(hit, rank) {
  const label = hitLabel(hit);
  const sim = typeof hit.similarity === 'number' ? hit.similarity : null;
  const threshold = state.threshold;

  const img = h('img', {
    'data-testid': 'result-thumb',
    src: hit.thumbnail_url,
    alt: `Result ${rank}: ${label}`,
    loading: 'lazy',
    decoding: 'async',
  });
  const busy = h('div', { class: 'thumb-busy', hidden: true }, spinner(), h('span', { class: 'thumb-busy-text' }));
  const mapNote = h('span', { class: 'thumb-note', hidden: true, text: '' });
  const thumb = h('div', { class: 'thumb' },
    img,
    h('span', { class: 'rank', 'data-testid': 'result-rank', text: `#${rank}` }),
    badge(hit.same),
    mapNote,
    busy);
  thumb.querySelector('.badge').setAttribute('data-testid', 'result-decision');

  const cut = simCut(threshold);
  const meter = h('div', { class: 'meter', title: cut != null ? `called the same above ${fmt(cut, 2)}` : null },
    h('span', { class: 'meter-fill', style: `width:${clamp01(sim ?? 0) * 100}%` }),
    cut != null ? h('span', { class: 'meter-threshold', style: `left:${clamp01(cut) * 100}%` }) : null);

  const heat = h('button', {
    type: 'button',
    class: 'btn btn-small toggle',
    'data-testid': 'heatmap-toggle',
    'aria-pressed': 'false',
    title: 'Show which regions of this match drove the decision',
  }, h('span', { class: 'toggle-dot', 'aria-hidden': 'true' }), 'Heatmap');
  const compare = h('button', {
    type: 'button', class: 'btn btn-small', 'data-testid': 'compare-button',
    title: 'Compare the query and this match side by side, with all four maps',
  }, 'Compare');
  const more = h('button', {
    type: 'button', class: 'btn btn-small icon-only', 'data-testid': 'more-like-this',
    title: 'More like this: search again with this image as the query', 'aria-label': `More like ${label} #${hit.id}`,
  }, moreIcon());

  const card = h('article', { class: `card ${hit.same ? 'is-same' : 'is-diff'}`, 'data-testid': 'result-card', 'data-id': String(hit.id) },
    thumb,
    h('div', { class: 'card-body' },
      h('div', { class: 'card-title' },
        h('span', { class: 'card-label', 'data-testid': 'result-label', title: label, text: label }),
        h('span', { class: 'card-id', text: `#${hit.id}` })),
      h('div', { class: 'card-score' },
        h('span', { class: 'score', 'data-testid': 'result-score', title: `score ${fmt(hit.score, 4)}`, text: fmt(sim) }),
        h('span', { class: 'score-label', text: 'similarity' })),
      meter),
    h('div', { class: 'card-actions' }, heat, compare, more));

  const cardState = { hit, img, heat, busy, mapNote, method: null };
  card._state = cardState;

  heat.addEventListener('click', async () => {
    if (heat.getAttribute('aria-pressed') === 'true') {
      heat.setAttribute('aria-pressed', 'false');
      img.src = hit.thumbnail_url;
      img.alt = `Result ${rank}: ${label}`;
      thumb.classList.remove('showing-map');
      mapNote.hidden = true;
      return;
    }
    heat.setAttribute('aria-pressed', 'true');
    await showCardMap(card);
  });
  compare.addEventListener('click', () => openCompare(hit, rank));
  more.addEventListener('click', () => setQueryId(hit));
  return card;
}

/** Fetches (or reuses) the card's explanation with the sidebar's method and shows its map. */
async function showCardMap(card) {
  const s = card._state;
  const method = el.method.value || state.defaultMethod;
  s.method = method;
  s.heat.disabled = true;
  s.busy.hidden = false;
  s.busy.querySelector('.thumb-busy-text').textContent = `explaining with ${method}…`;
  const done = progress(`explaining #${s.hit.id} with ${method}…`);
  s.heat.setAttribute('aria-busy', 'true');
  try {
    const ex = await explain(s.hit.id, method, 'last');
    if (s.method !== method || s.heat.getAttribute('aria-pressed') !== 'true') return;
    s.img.src = ex.hit.factual.png;
    s.img.alt = `Factual ${method} map over result #${s.hit.id}`;
    s.img.closest('.thumb').classList.add('showing-map');
    s.mapNote.hidden = false;
    s.mapNote.textContent = `${method} · ${ex.factual_target === 'distance' ? 'why different' : 'why same'}`;
    done(`explained #${s.hit.id} with ${method}`);
  } catch (e) {
    done('');
    s.heat.setAttribute('aria-pressed', 'false');
    showError(e, `Explaining result #${s.hit.id} failed`);
    // Back to the thumbnail: the toggle is off again.
    s.img.closest('.thumb').classList.remove('showing-map');
  } finally {
    done('');
    s.heat.disabled = false;
    s.heat.removeAttribute('aria-busy');
    s.busy.hidden = true;
  }
}

/** POST /explain for the current query and a hit; cached per (query, hit, method, layer). */
function explain(hitId, method, layer) {
  const key = `${state.queryKey}|${hitId}|${method}|${layer}`;
  if (state.explanations.has(key)) return state.explanations.get(key);
  const q = state.query;
  const collection = (state.lastParams && state.lastParams.collection) || el.collection.value;
  let request;
  if (!q) return Promise.reject(new ApiError(0, 'client', 'There is no query image.'));
  if (q.kind === 'file') {
    const form = new FormData();
    form.append('image', q.file, q.file.name || 'query');
    form.append('hit', String(hitId));
    form.append('method', method);
    form.append('layer', String(layer));
    request = { method: 'POST', form };
  } else {
    request = { method: 'POST', json: { id: q.id, hit: hitId, method, layer: layerValue(layer) } };
  }
  const p = api(`${collectionPath(collection)}/explain`, request);
  state.explanations.set(key, p);
  p.catch(() => state.explanations.delete(key));
  return p;
}

function layerValue(layer) {
  return layer === 'last' ? 'last' : Number(layer);
}

// When the sidebar's method changes, maps already shown switch to it.
function refreshShownMaps() {
  for (const card of el.results.querySelectorAll('.card')) {
    const s = card._state;
    if (s && s.heat.getAttribute('aria-pressed') === 'true' && s.method !== el.method.value) showCardMap(card);
  }
}

// ---------------------------------------------------------------------------------------------
// The compare view

const cmp = {
  hit: null,
  rank: 0,
  token: 0,
  timer: null,
};

const cel = {
  method: $('compare-method'),
  layer: $('compare-layer'),
  close: $('compare-close'),
  sub: $('compare-sub'),
  progress: $('compare-progress'),
  progressText: $('compare-progress-text'),
  error: $('compare-error'),
  errorMessage: $('compare-error-message'),
  body: $('compare-body'),
  decision: $('compare-decision'),
  similarity: $('compare-similarity'),
  meter: $('compare-meter'),
  thresholdMark: $('compare-threshold-mark'),
  explains: $('compare-explains'),
  svg: $('correspondence'),
  corrCaption: $('corr-caption'),
  headFactual: $('head-factual'),
  headCounter: $('head-counterfactual'),
};

const MAP_IDS = ['query-factual', 'query-counterfactual', 'hit-factual', 'hit-counterfactual'];

function openCompare(hit, rank) {
  cmp.hit = hit;
  cmp.rank = rank;
  fillMethods(cel.method, el.method.value || state.defaultMethod);
  const c = currentCollection();
  const layers = c && Number.isInteger(c.layers) ? c.layers : 0;
  const layerOptions = [new Option('last', 'last', true, true)];
  for (let i = layers; i >= 1; i -= 1) layerOptions.push(new Option(String(i), String(i)));
  cel.layer.replaceChildren(...layerOptions);
  cel.layer.disabled = layers === 0;
  cel.sub.textContent = `Query vs result #${rank}: ${hitLabel(hit)} (id ${hit.id})`;
  clearCompare();
  if (!el.dialog.open) el.dialog.showModal();
  loadCompare();
}

function clearCompare() {
  for (const id of ['crop-query', 'crop-hit', ...MAP_IDS.map((m) => `map-${m}`)]) $(id).removeAttribute('src');
  for (const id of MAP_IDS) $(`cap-${id}`).textContent = '';
  cel.svg.replaceChildren();
  cel.decision.textContent = '';
  cel.decision.className = 'badge badge-lg';
  cel.similarity.textContent = '–';
  cel.explains.textContent = '';
  cel.corrCaption.textContent = '';
  cel.meter.style.width = '0';
  cel.thresholdMark.hidden = true;
}

async function loadCompare() {
  const method = cel.method.value || state.defaultMethod;
  const layer = cel.layer.value || 'last';
  const token = ++cmp.token;
  cel.error.hidden = true;
  cel.method.disabled = true;
  cel.layer.disabled = true;
  cel.body.classList.add('loading');
  cel.progress.hidden = false;
  const started = performance.now();
  const label = `explaining with ${method}${layer === 'last' ? '' : ` at layer ${layer}`}…`;
  const tick = () => {
    const s = Math.floor((performance.now() - started) / 1000);
    cel.progressText.textContent = s >= 1 ? `${label} ${s} s` : label;
  };
  tick();
  clearInterval(cmp.timer);
  cmp.timer = setInterval(tick, 1000);
  try {
    const ex = await explain(cmp.hit.id, method, layer);
    if (token !== cmp.token) return;
    renderCompare(ex);
  } catch (e) {
    if (token !== cmp.token) return;
    cel.errorMessage.textContent = `Explaining failed: ${e.message}${e.status ? ` (HTTP ${e.status})` : ''}`;
    cel.error.hidden = false;
  } finally {
    if (token === cmp.token) {
      clearInterval(cmp.timer);
      cel.progress.hidden = true;
      cel.body.classList.remove('loading');
      cel.method.disabled = false;
      const c = currentCollection();
      cel.layer.disabled = !(c && Number.isInteger(c.layers) && c.layers > 0);
    }
  }
}

function renderCompare(ex) {
  $('crop-query').src = ex.crops.query;
  $('crop-hit').src = ex.crops.hit;
  for (const side of ['query', 'hit']) {
    for (const kind of ['factual', 'counterfactual']) {
      const map = ex[side][kind];
      $(`map-${side}-${kind}`).src = map.png;
      const cap = $(`cap-${side}-${kind}`);
      const range = `raw ${short(map.raw_min)} … ${short(map.raw_max)}`;
      cap.textContent = map.flat ? 'flat: no signal' : range;
      cap.classList.toggle('flat', !!map.flat);
    }
  }
  const sameTarget = ex.factual_target !== 'distance';
  cel.headFactual.replaceChildren('Factual', h('small', { text: `explains the ${sameTarget ? 'similarity' : 'distance'}` }));
  cel.headCounter.replaceChildren('Counterfactual', h('small', { text: `explains the ${sameTarget ? 'distance' : 'similarity'}` }));

  cel.decision.textContent = ex.same ? 'Same' : 'Different';
  cel.decision.className = `badge badge-lg ${ex.same ? 'badge-same' : 'badge-diff'}`;
  cel.similarity.textContent = fmt(ex.similarity);
  cel.meter.style.width = `${clamp01(ex.similarity) * 100}%`;
  const threshold = state.threshold ?? (currentCollection() || {}).threshold;
  const cut = simCut(threshold);
  if (cut !== null) {
    cel.thresholdMark.hidden = false;
    cel.thresholdMark.style.left = `${clamp01(cut) * 100}%`;
    cel.thresholdMark.title = `called the same above ${fmt(cut, 2)}`;
  } else {
    cel.thresholdMark.hidden = true;
  }
  const vs = (same) => (typeof threshold === 'number'
    ? `the distance ${fmt(ex.distance)} is ${same ? 'under' : 'at or over'} the model's threshold ${fmt(threshold, 2)} (similarity ${fmt(ex.similarity)})`
    : `similarity ${fmt(ex.similarity)}, distance ${fmt(ex.distance)}`);
  const layerText = ex.layer !== undefined ? `, layer ${ex.layer}` : '';
  cel.explains.textContent = sameTarget
    ? `Called the same: ${vs(true)}. The factual maps (${ex.method}${layerText}) show the regions that make the two images look alike: they raise the similarity. The counterfactual maps show what argues against the match: the regions that raise the distance.`
    : `Called different: ${vs(false)}. The factual maps (${ex.method}${layerText}) show the regions that set the two images apart: they raise the distance. The counterfactual maps show what the two still share: the regions that raise the similarity.`;
  drawCorrespondence(ex);
}

const SVG = 'http://www.w3.org/2000/svg';
function svgEl(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  return node;
}

/** Both crops side by side with lines between the centres of the most contributing cell pairs. */
function drawCorrespondence(ex) {
  const C = 224;
  const GAP = 32;
  const svg = cel.svg;
  svg.setAttribute('viewBox', `0 0 ${2 * C + GAP} ${C}`);
  svg.replaceChildren();
  const corr = ex.correspondence;
  svg.append(
    svgEl('image', { href: ex.crops.query, x: 0, y: 0, width: C, height: C, preserveAspectRatio: 'none' }),
    svgEl('image', { href: ex.crops.hit, x: C + GAP, y: 0, width: C, height: C, preserveAspectRatio: 'none' }));
  if (!corr || !Array.isArray(corr.grid) || !Array.isArray(corr.top)) {
    cel.corrCaption.textContent = 'No correspondence for this pair.';
    return;
  }
  const [rows, cols] = corr.grid;
  const ch = C / rows;
  const cw = C / cols;
  // The cell grid, faintly, over both crops.
  const grid = svgEl('g', { class: 'cells' });
  for (const x0 of [0, C + GAP]) {
    for (let r = 1; r < rows; r += 1) grid.append(svgEl('line', { x1: x0, y1: r * ch, x2: x0 + C, y2: r * ch }));
    for (let c = 1; c < cols; c += 1) grid.append(svgEl('line', { x1: x0 + c * cw, y1: 0, x2: x0 + c * cw, y2: C }));
  }
  svg.append(grid);

  const top = corr.top.slice();
  const max = Math.max(1e-12, ...top.map((t) => Math.abs(t.contribution)));
  const lines = svgEl('g', { class: 'links' });
  // Weakest first, so the strongest lines are drawn on top.
  top.map((t, i) => ({ ...t, i })).reverse().forEach((t) => {
    const [ar, ac] = t.a;
    const [br, bc] = t.b;
    const x1 = (ac + 0.5) * cw;
    const y1 = (ar + 0.5) * ch;
    const x2 = C + GAP + (bc + 0.5) * cw;
    const y2 = (br + 0.5) * ch;
    const w = Math.abs(t.contribution) / max;
    const hue = 190 - 150 * (t.i / Math.max(1, top.length - 1)); // cyan (strongest) to amber
    const color = t.contribution < 0 ? '#ef4444' : `hsl(${hue} 90% 55%)`;
    const g = svgEl('g', { class: 'link', 'data-testid': 'correspondence-link' });
    const title = svgEl('title');
    title.textContent = `#${t.i + 1}: query cell (${ar}, ${ac}) ↔ match cell (${br}, ${bc}), contribution ${t.contribution.toFixed(4)}`;
    g.append(title,
      svgEl('line', { x1, y1, x2, y2, class: 'halo', 'stroke-width': 1.5 + 3.5 * w + 2 }),
      svgEl('line', { x1, y1, x2, y2, stroke: color, 'stroke-width': 1 + 3.5 * w, 'stroke-opacity': 0.45 + 0.55 * w,
        'stroke-dasharray': t.contribution < 0 ? '4 3' : null, 'data-testid': 'correspondence-line' }),
      svgEl('circle', { cx: x1, cy: y1, r: 2.5 + 2 * w, fill: color }),
      svgEl('circle', { cx: x2, cy: y2, r: 2.5 + 2 * w, fill: color }));
    lines.append(g);
  });
  svg.append(lines);
  const cos = typeof corr.cosine === 'number' ? ` The cosine of the two embeddings is ${fmt(corr.cosine)}.` : '';
  cel.corrCaption.textContent = `The ${top.length} cell pairs (of a ${rows}×${cols} grid) that contribute most to the similarity; thicker lines contribute more.${cos}`;
}

function closeCompare() {
  cmp.token += 1; // results still on the way are dropped
  clearInterval(cmp.timer);
  cel.progress.hidden = true;
  if (el.dialog.open) el.dialog.close();
}

// ---------------------------------------------------------------------------------------------
// Start

function init() {
  setupQueryInputs();
  el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    search();
  });
  el.collection.addEventListener('change', () => {
    localStorage.setItem('lookalike.collection', el.collection.value);
    describeCollection();
    state.labels.clear();
    refreshSuggestions();
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
  el.moreButton.addEventListener('click', () => search({ append: true }));
  el.errorClose.addEventListener('click', clearError);
  cel.method.addEventListener('change', loadCompare);
  cel.layer.addEventListener('change', loadCompare);
  cel.close.addEventListener('click', closeCompare);
  el.dialog.addEventListener('close', closeCompare);
  el.dialog.addEventListener('click', (e) => {
    if (e.target === el.dialog) closeCompare(); // a click on the backdrop
  });
  renderQuery();
  renderResults();
  loadHealth();
  Promise.all([loadExplainers(), loadCollections()]).then(() => {
    document.body.dataset.ready = 'true';
  });
}

init();
