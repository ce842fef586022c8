// POST /explain for the current query and one hit, cached per query, box, hit and choice.

import { api, ApiError, collectionPath } from './api.js';
import { croppedQuery, cropKey } from './query-crop.js';
import { el, state } from './state.js';

/** `choice` = {method, layer, target, masks}; resolves to the explanation view. When the search
 *  used a box, the query is the part inside it. */
export function explain(hitId, { method, layer = 'last', target, masks = null }) {
  const used = state.usedCrop;
  const key = `${state.queryKey}|${cropKey(used)}|${hitId}|${method}|${layer}|${target}|${masks ?? ''}`;
  if (state.explanations.has(key)) return state.explanations.get(key);
  const q = state.query;
  if (!q) return Promise.reject(new ApiError(0, 'client', 'There is no query image.'));
  const collection = (state.lastParams && state.lastParams.collection) || el.collection.value;
  const p = (used ? croppedQuery(q, used) : Promise.resolve(null)).then((region) => {
    if (used && !region) throw new ApiError(0, 'client', 'The searched region of the query could not be cut out to explain it.');
    return api(`${collectionPath(collection)}/explain`, request(q, region, hitId, { method, layer, target, masks }));
  });
  state.explanations.set(key, p);
  p.catch(() => state.explanations.delete(key));
  return p;
}

/** An upload of the query (or of its searched region), or the stored id. */
function request(q, region, hitId, { method, layer, target, masks }) {
  if (q.kind === 'file' || region) {
    const file = region || q.file;
    const form = new FormData();
    form.append('image', file, file.name || 'query');
    form.append('hit', String(hitId));
    form.append('method', method);
    form.append('layer', String(layer));
    if (target) form.append('target', target);
    if (masks !== null) form.append('masks', String(masks));
    return { method: 'POST', form };
  }
  const json = { id: q.id, hit: hitId, method, layer: layer === 'last' ? 'last' : Number(layer) };
  if (target) json.target = target;
  if (masks !== null) json.masks = masks;
  return { method: 'POST', json };
}
