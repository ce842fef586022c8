// The query image: dropped anywhere on the page, pasted, chosen, or a stored id ("more like
// this"). A new query clears the old results and searches at once.

import { ApiError } from './api.js';
import { hitLabel } from './format.js';
import { clearError, showError } from './messages.js';
import { clearRegion } from './region.js';
import { renderResults } from './results.js';
import { search, updateSearchButton } from './search.js';
import { el, state } from './state.js';

function forgetQueryUrl() {
  if (state.query && state.query.url && state.query.kind === 'file') URL.revokeObjectURL(state.query.url);
}

export function setQueryFile(file, source) {
  if (!file) return;
  forgetQueryUrl();
  const name = file.name && file.name !== 'image.png' ? file.name : `${source} image`;
  state.query = { kind: 'file', file, name, url: URL.createObjectURL(file) };
  newQuery();
  clearRegion();
  search();
}

export function setQueryId(hit) {
  forgetQueryUrl();
  state.query = { kind: 'id', id: hit.id, name: `more like #${hit.id} ${hitLabel(hit)}`, url: hit.image_url || hit.thumbnail_url };
  newQuery();
  clearRegion();
  search();
}

/** The results (and their maps) belong to the old query: they go, so that nothing explains a
 *  hit against a query it was not found for. */
function forgetResults() {
  state.queryKey += 1;
  state.explanations.clear();
  state.hits = [];
  state.novelty = null;
  state.outOfCatalogue = false;
  state.searched = false;
  renderQuery();
  renderResults();
}

export function newQuery() {
  forgetResults();
}

export function clearQuery() {
  forgetQueryUrl();
  state.query = null;
  forgetResults();
  clearRegion();
  el.status.textContent = '';
  clearError();
}

export function renderQuery() {
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

export function setupQueryInputs() {
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
