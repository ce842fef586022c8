// POST /explain for the current query and one hit, cached per query, hit and choice.

import { api, ApiError, collectionPath } from './api.js';
import { el, state } from './state.js';

/** `choice` = {method, layer, target, masks}; resolves to the explanation view. */
export function explain(hitId, { method, layer = 'last', target, masks = null }) {
  const key = `${state.queryKey}|${hitId}|${method}|${layer}|${target}|${masks ?? ''}`;
  if (state.explanations.has(key)) return state.explanations.get(key);
  const q = state.query;
  if (!q) return Promise.reject(new ApiError(0, 'client', 'There is no query image.'));
  const collection = (state.lastParams && state.lastParams.collection) || el.collection.value;
  let request;
  if (q.kind === 'file') {
    const form = new FormData();
    form.append('image', q.file, q.file.name || 'query');
    form.append('hit', String(hitId));
    form.append('method', method);
    form.append('layer', String(layer));
    if (target) form.append('target', target);
    if (masks !== null) form.append('masks', String(masks));
    request = { method: 'POST', form };
  } else {
    const json = { id: q.id, hit: hitId, method, layer: layer === 'last' ? 'last' : Number(layer) };
    if (target) json.target = target;
    if (masks !== null) json.masks = masks;
    request = { method: 'POST', json };
  }
  const p = api(`${collectionPath(collection)}/explain`, request);
  state.explanations.set(key, p);
  p.catch(() => state.explanations.delete(key));
  return p;
}
