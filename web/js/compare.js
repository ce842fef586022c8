// The compare view (a modal <dialog>): both crops, the four maps, the decision with the
// similarity and the logit, and the correspondence. Its own method, layer and target pickers
// re-fetch and redraw.

import { currentCollection } from './collections.js';
import { drawCorrespondence } from './correspondence.js';
import { $, h } from './dom.js';
import { explain } from './explain.js';
import { fillMethods, fillTargets, readMasks } from './explainers.js';
import { clamp01, fmt, hitLabel, logitText, mapCaption, simCut } from './format.js';
import { el, state } from './state.js';

const cmp = { hit: null, rank: 0, token: 0, timer: null };

const cel = {
  method: $('compare-method'),
  layer: $('compare-layer'),
  target: $('compare-target'),
  close: $('compare-close'),
  sub: $('compare-sub'),
  progress: $('compare-progress'),
  progressText: $('compare-progress-text'),
  error: $('compare-error'),
  errorMessage: $('compare-error-message'),
  body: $('compare-body'),
  decision: $('compare-decision'),
  similarity: $('compare-similarity'),
  logit: $('compare-logit'),
  meter: $('compare-meter'),
  thresholdMark: $('compare-threshold-mark'),
  explains: $('compare-explains'),
  svg: $('correspondence'),
  corrCaption: $('corr-caption'),
  headFactual: $('head-factual'),
  headCounter: $('head-counterfactual'),
};

const MAP_IDS = ['query-factual', 'query-counterfactual', 'hit-factual', 'hit-counterfactual'];

const pickers = () => [cel.method, cel.layer, cel.target];

export function openCompare(hit, rank) {
  cmp.hit = hit;
  cmp.rank = rank;
  fillMethods(cel.method, el.method.value || state.defaultMethod);
  fillTargets(cel.target, el.target.value || state.defaultTarget);
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
  cel.logit.textContent = '';
  cel.explains.textContent = '';
  cel.corrCaption.textContent = '';
  cel.meter.style.width = '0';
  cel.thresholdMark.hidden = true;
}

function showCompareError(text) {
  cel.errorMessage.textContent = text;
  cel.error.hidden = false;
}

async function loadCompare() {
  const method = cel.method.value || state.defaultMethod;
  const layer = cel.layer.value || 'last';
  const target = cel.target.value || state.defaultTarget;
  let masks;
  try {
    masks = readMasks(el.masks, method);
  } catch (e) {
    showCompareError(e.message);
    return;
  }
  const token = ++cmp.token;
  cel.error.hidden = true;
  for (const p of pickers()) p.disabled = true;
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
    const ex = await explain(cmp.hit.id, { method, layer, target, masks });
    if (token !== cmp.token) return;
    renderCompare(ex);
  } catch (e) {
    if (token !== cmp.token) return;
    showCompareError(`Explaining failed: ${e.message}${e.status ? ` (HTTP ${e.status})` : ''}`);
  } finally {
    if (token === cmp.token) {
      clearInterval(cmp.timer);
      cel.progress.hidden = true;
      cel.body.classList.remove('loading');
      cel.method.disabled = false;
      cel.target.disabled = false;
      const c = currentCollection();
      cel.layer.disabled = !(c && Number.isInteger(c.layers) && c.layers > 0);
    }
  }
}

function renderMaps(ex) {
  for (const side of ['query', 'hit']) {
    for (const kind of ['factual', 'counterfactual']) {
      const map = ex[side][kind];
      const img = $(`map-${side}-${kind}`);
      img.src = map.png;
      img.dataset.flat = map.flat ? 'true' : 'false';
      if (map.fallback) img.dataset.fallback = map.fallback;
      else delete img.dataset.fallback;
      const cap = $(`cap-${side}-${kind}`);
      cap.textContent = mapCaption(map);
      cap.title = map.flat_reason || '';
      cap.classList.toggle('flat', !!map.flat);
      cap.classList.toggle('fallback', !!map.fallback);
    }
  }
}

function renderVerdict(ex, sameTarget) {
  cel.decision.textContent = ex.same ? 'Same' : 'Different';
  cel.decision.className = `badge badge-lg ${ex.same ? 'badge-same' : 'badge-diff'}`;
  cel.similarity.textContent = fmt(ex.similarity);
  cel.similarity.title = `similarity ${ex.similarity}`;
  cel.logit.textContent = typeof ex.logit === 'number' ? logitText(ex.logit) : '';
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
    ? `the distance ${fmt(ex.distance)} is ${same ? 'under' : 'at or over'} the model's threshold ${fmt(threshold, 2)} (similarity ${fmt(ex.similarity)}, ${logitText(ex.logit) || 'no logit'})`
    : `similarity ${fmt(ex.similarity)}, distance ${fmt(ex.distance)}`);
  const layerText = ex.layer !== undefined ? `, layer ${ex.layer}` : '';
  const score = ex.target === 'probability' ? 'the probability of "same"' : "the head's logit";
  const fallback = [ex.query.factual, ex.hit.factual].some((m) => m.fallback)
    ? ' This pair gave the method no gradient to work with, so a gradient-free occlusion of the feature map made the maps marked "no gradient".'
    : '';
  cel.explains.textContent = (sameTarget
    ? `Called the same: ${vs(true)}. The factual maps (${ex.method}${layerText}, on ${score}) show the regions that make the two images look alike: they raise the similarity. The counterfactual maps show what argues against the match: the regions that raise the distance.`
    : `Called different: ${vs(false)}. The factual maps (${ex.method}${layerText}, on ${score}) show the regions that set the two images apart: they raise the distance. The counterfactual maps show what the two still share: the regions that raise the similarity.`)
    + fallback;
}

function renderCompare(ex) {
  $('crop-query').src = ex.crops.query;
  $('crop-hit').src = ex.crops.hit;
  renderMaps(ex);
  const sameTarget = ex.factual_target !== 'distance';
  cel.headFactual.replaceChildren('Factual', h('small', { text: `explains the ${sameTarget ? 'similarity' : 'distance'}` }));
  cel.headCounter.replaceChildren('Counterfactual', h('small', { text: `explains the ${sameTarget ? 'distance' : 'similarity'}` }));
  renderVerdict(ex, sameTarget);
  cel.corrCaption.textContent = drawCorrespondence(cel.svg, ex);
}

export function closeCompare() {
  cmp.token += 1; // results still on the way are dropped
  clearInterval(cmp.timer);
  cel.progress.hidden = true;
  if (el.dialog.open) el.dialog.close();
}

export function setupCompare() {
  cel.method.addEventListener('change', loadCompare);
  cel.layer.addEventListener('change', loadCompare);
  cel.target.addEventListener('change', loadCompare);
  cel.close.addEventListener('click', closeCompare);
  el.dialog.addEventListener('close', closeCompare);
  el.dialog.addEventListener('click', (e) => {
    if (e.target === el.dialog) closeCompare(); // a click on the backdrop
  });
}
