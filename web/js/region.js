// The query's region: a box dragged on the query preview (the search runs on release with it as
// `crop`), or the box the server's auto crop used, drawn over the picture. A box is kept in
// fractions of the image, [x, y, w, h], as the API's `crop` takes it; Escape, Delete or the
// "Clear box" button go back to the whole image.

import { el, state } from './state.js';

let onChange = () => {};
let drag = null; // {rect, start: [fx, fy], box} while the pointer is down

const clamp01 = (v) => Math.max(0, Math.min(1, v));
const floor4 = (v) => Math.floor(v * 1e4) / 1e4;
const pct = (v) => `${Math.round(v * 100)}%`;

/** Where the picture lies on the screen: the <img> letterboxes it (object-fit: contain). */
function pictureRect() {
  const img = el.queryImage;
  const { naturalWidth: nw, naturalHeight: nh } = img;
  if (!nw || !nh || img.hidden) return null;
  const r = img.getBoundingClientRect();
  const scale = Math.min(r.width / nw, r.height / nh);
  const width = nw * scale;
  const height = nh * scale;
  return { left: r.left + (r.width - width) / 2, top: r.top + (r.height - height) / 2, width, height };
}

const fractionAt = (e, rect) => [clamp01((e.clientX - rect.left) / rect.width), clamp01((e.clientY - rect.top) / rect.height)];

/** The box between two corners, rounded down so that it always fits in the image. */
function boxOf([ax, ay], [bx, by]) {
  const x = floor4(Math.min(ax, bx));
  const y = floor4(Math.min(ay, by));
  return [x, y, Math.min(floor4(Math.abs(bx - ax)), 1 - x), Math.min(floor4(Math.abs(by - ay)), 1 - y)];
}

/** The box the server used ({box: [x, y, w, h] in pixels, image_size}) in fractions. */
function usedFractions(used) {
  const [iw, ih] = used.image_size;
  const [x, y, w, h] = used.box;
  return [x / iw, y / ih, w / iw, h / ih];
}

function draw(box, kind, tag) {
  const rect = pictureRect();
  if (!box || !rect) {
    el.regionBox.hidden = true;
    delete el.regionBox.dataset.kind;
    delete el.regionBox.dataset.box;
    return;
  }
  const frame = el.regionFrame.getBoundingClientRect();
  const [x, y, w, h] = box;
  const at = (offset, size, whole) => `${((offset + size) / whole) * 100}%`;
  Object.assign(el.regionBox.style, {
    left: at(rect.left - frame.left, x * rect.width, frame.width),
    top: at(rect.top - frame.top, y * rect.height, frame.height),
    width: `${((w * rect.width) / frame.width) * 100}%`,
    height: `${((h * rect.height) / frame.height) * 100}%`,
  });
  el.regionBox.hidden = false;
  // The tag sits above the box, or inside it when the box starts at the top of the frame.
  el.regionBox.dataset.y0 = String(rect.top - frame.top + y * rect.height < 18);
  el.regionBox.dataset.kind = kind;
  el.regionBox.dataset.box = box.map((v) => v.toFixed(4)).join(',');
  el.regionTag.textContent = tag;
}

const pixels = (u) => `${u.box[2]} × ${u.box[3]} px at (${u.box[0]}, ${u.box[1]}) of ${u.image_size[0]} × ${u.image_size[1]}`;

/** Draws what the next (or last) search uses: the drawn box, the auto box, or nothing. */
export function showRegion() {
  const used = state.usedCrop;
  if (drag && drag.box) {
    draw(drag.box, 'drawing', 'release to search');
  } else if (state.region) {
    const [x, y, w, h] = state.region;
    draw(state.region, 'drawn', 'region');
    el.regionInfo.textContent = used && used.method === 'given'
      ? `Searching the box ${pixels(used)}.`
      : `Searching the box ${pct(w)} × ${pct(h)} at (${pct(x)}, ${pct(y)}).`;
  } else if (el.autoCrop.checked && used && used.method === 'auto') {
    draw(usedFractions(used), 'auto', 'auto crop');
    el.regionInfo.textContent = `Auto crop: the main object, ${pixels(used)}.`;
  } else {
    draw(null);
    el.regionInfo.textContent = el.autoCrop.checked
      ? (state.searched ? 'Auto crop found no single object: the whole image is searched.' : 'Auto crop: the server finds the main object.')
      : 'Drag on the image to search a region.';
  }
  el.regionClear.hidden = !state.region;
  el.regionBar.hidden = el.queryImage.hidden; // a file that is no picture has no region
  el.regionFrame.classList.toggle('has-box', !el.regionBox.hidden);
}

/** Forgets the box (a new query). With `search`, the whole image is searched again. */
export function clearRegion({ search = false } = {}) {
  const had = state.region !== null;
  state.region = null;
  state.usedCrop = null;
  drag = null;
  showRegion();
  if (search && had) onChange();
}

/** The `crop` and `auto_crop` of the next search. */
export function regionParams() {
  if (state.region) return { crop: [...state.region], autoCrop: false };
  return { crop: null, autoCrop: el.autoCrop.checked };
}

export function setupRegion({ changed }) {
  onChange = changed;
  const frame = el.regionFrame;
  frame.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || !state.query) return;
    const rect = pictureRect();
    if (!rect) return;
    e.preventDefault();
    frame.focus({ preventScroll: true });
    frame.setPointerCapture(e.pointerId);
    drag = { rect, start: fractionAt(e, rect), box: null };
  });
  frame.addEventListener('pointermove', (e) => {
    if (!drag) return;
    drag.box = boxOf(drag.start, fractionAt(e, drag.rect));
    showRegion();
  });
  const release = (e, cancelled) => {
    if (!drag) return;
    const { box, rect } = drag;
    drag = null;
    if (frame.hasPointerCapture(e.pointerId)) frame.releasePointerCapture(e.pointerId);
    // A click, or a box a few pixels wide, is no region: what was shown stays.
    if (cancelled || !box || box[2] * rect.width < 6 || box[3] * rect.height < 6) {
      showRegion();
      return;
    }
    state.region = box;
    state.usedCrop = null;
    el.autoCrop.checked = false;
    showRegion();
    onChange();
  };
  frame.addEventListener('pointerup', (e) => release(e, false));
  frame.addEventListener('pointercancel', (e) => release(e, true));
  frame.addEventListener('keydown', (e) => {
    if (state.region && ['Escape', 'Delete', 'Backspace'].includes(e.key)) {
      e.preventDefault();
      clearRegion({ search: true });
    }
  });
  el.regionClear.addEventListener('click', () => clearRegion({ search: true }));
  el.autoCrop.addEventListener('change', () => {
    state.region = null;
    state.usedCrop = null;
    showRegion();
    if (state.query) onChange();
  });
  // The box is laid over the picture, whose place is known once it has loaded.
  el.queryImage.addEventListener('load', showRegion);
  window.addEventListener('resize', showRegion);
}
