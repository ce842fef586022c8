// The error notice and the progress line.

import { ApiError } from './api.js';
import { spinner } from './dom.js';
import { el } from './state.js';

export function showError(err, context) {
  const e = err instanceof ApiError ? err : new ApiError(0, 'client', String((err && err.message) || err));
  el.errorMessage.textContent = context ? `${context}: ${e.message}` : e.message;
  el.errorDetail.textContent = e.status ? `HTTP ${e.status} · ${e.code}` : (e.code === 'network' ? 'no response' : '');
  el.error.hidden = false;
}

export function clearError() {
  el.error.hidden = true;
  el.errorMessage.textContent = '';
  el.errorDetail.textContent = '';
}

let statusOwner = 0;
/**
 * Shows a progress line (a spinner and the seconds elapsed) until the returned function runs; it
 * then shows `done`. The latest caller owns the line: an older one finishing leaves it alone.
 */
export function progress(text) {
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
