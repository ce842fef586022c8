// How numbers, labels and maps read on the page.

export const clamp01 = (x) => Math.max(0, Math.min(1, x));

const isNum = (x) => typeof x === 'number' && Number.isFinite(x);

/** A fixed number of decimals, or "–"; negative numbers get a true minus sign. */
export function fmt(x, digits = 3) {
  return isNum(x) ? x.toFixed(digits).replace(/^-/, '−') : '–';
}

/** A raw map value in few characters: 0, 0.42, 2.9e-3. */
export function short(x) {
  if (!isNum(x)) return '–';
  if (x === 0) return '0';
  return Math.abs(x) >= 0.01 && Math.abs(x) < 1000 ? String(Number(x.toPrecision(2))) : x.toExponential(1);
}

/** The similarity above which a pair is called the same: the threshold is on the distance 1 − s. */
export function simCut(threshold) {
  return isNum(threshold) ? 1 - threshold : null;
}

/**
 * The fewest decimals (1 to 6) at which every two different logits of the list read differently,
 * so that a page of hits never shows the same number twice for scores that differ.
 */
export function logitDigits(logits) {
  const values = [...new Set(logits.filter(isNum))];
  // A cosine (a zero-shot collection's score) lives in [−1, 1]: it needs more than one decimal.
  const start = values.every((v) => Math.abs(v) < 10) ? 3 : 1;
  for (let d = start; d < 6; d += 1) {
    if (new Set(values.map((v) => v.toFixed(d))).size === values.length) return d;
  }
  return 6;
}

/** The decimals one logit is shown with on its own: 3 near zero, 1 for large ones. */
export const ownDigits = (x) => (Math.abs(x) < 10 ? 3 : 1);

/** "logit −52.3". */
export function logitText(logit, digits = ownDigits(logit)) {
  return isNum(logit) ? `logit ${fmt(logit, digits)}` : '';
}

/** What to call a stored image: its label, its title, its external id, its file name, or its id. */
export function hitLabel(hit) {
  const m = hit.metadata || {};
  if (m.label !== undefined && m.label !== null) return String(m.label);
  if (typeof m.title === 'string' && m.title) return m.title;
  if (m.external_id) return String(m.external_id);
  if (typeof m.path === 'string') return m.path.split(/[\\/]/).pop();
  return `image ${hit.id}`;
}

/** The method that made a map: the asked one, or the gradient-free fallback, said as such. */
export function mapMethod(map, asked) {
  return map && map.fallback ? `${map.fallback} (no gradient)` : asked;
}

/** A map's caption: why it is flat, or its raw range (and the fallback that made it). */
export function mapCaption(map) {
  if (!map) return '';
  if (map.flat) return `flat: ${map.flat_reason || 'no signal'}`;
  const range = `raw ${short(map.raw_min)} … ${short(map.raw_max)}`;
  return map.fallback ? `${map.fallback} (no gradient) · ${range}` : range;
}

/** A percentage for prose: 99, 99.5, 0.2. */
export function percent(x) {
  if (!isNum(x)) return '–';
  const r = Math.abs(x - Math.round(x)) < 0.05 ? Math.round(x) : Number(x.toFixed(1));
  return String(r);
}
