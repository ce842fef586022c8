// The results grid: one card per hit (per product in a grouped search) with its similarity and
// logit, its decision, a heatmap toggle, the compare button and "more like this".

import { openCompare } from './compare.js';
import { h, badge, moreIcon, spinner } from './dom.js';
import { explain } from './explain.js';
import { sidebarChoice } from './explainers.js';
import { clamp01, fmt, hitLabel, logitDigits, logitText, mapMethod, simCut } from './format.js';
import { progress, showError } from './messages.js';
import { renderNovelty } from './novelty.js';
import { productLine } from './products.js';
import { setQueryId } from './query.js';
import { el, state } from './state.js';

export function renderResults({ append = false, newHits = state.hits, offset = 0 } = {}) {
  el.empty.hidden = state.hits.length > 0 || state.searching || state.searched;
  renderNovelty();
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
  relabelLogits();
}

/** Every card's logit with the decimals that tell all shown logits apart. */
function relabelLogits() {
  const digits = logitDigits(state.hits.map((x) => x.logit));
  for (const node of el.results.querySelectorAll('[data-testid=result-logit]')) {
    node.textContent = logitText(Number(node.dataset.logit), digits);
  }
}

function resultCard(hit, rank) {
  const label = hitLabel(hit);
  const sim = typeof hit.similarity === 'number' ? hit.similarity : null;

  const img = h('img', {
    'data-testid': 'result-thumb',
    src: hit.thumbnail_url,
    alt: `Result ${rank}: ${label}`,
    loading: 'lazy',
    decoding: 'async',
  });
  const busy = h('div', { class: 'thumb-busy', hidden: true }, spinner(), h('span', { class: 'thumb-busy-text' }));
  const mapNote = h('span', { class: 'thumb-note', 'data-testid': 'map-note', hidden: true, text: '' });
  const decision = badge(hit.same);
  decision.setAttribute('data-testid', 'result-decision');
  const thumb = h('div', { class: 'thumb' },
    img,
    h('span', { class: 'rank', 'data-testid': 'result-rank', text: `#${rank}` }),
    decision,
    mapNote,
    busy);

  const cut = simCut(state.threshold);
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

  const exact = typeof hit.logit === 'number'
    ? `similarity ${sim}, logit ${hit.logit}, score ${hit.score}` : `similarity ${sim}, score ${hit.score}`;
  const grouped = 'group' in hit;
  const card = h('article', {
    class: `card ${hit.same ? 'is-same' : 'is-diff'}`,
    'data-testid': 'result-card',
    'data-id': String(hit.id),
    'data-product': grouped && hit.group !== null ? String(hit.group) : null,
  },
    thumb,
    h('div', { class: 'card-body' },
      h('div', { class: 'card-title' },
        h('span', { class: 'card-label', 'data-testid': 'result-label', title: label, text: label }),
        h('span', { class: 'card-id', text: `#${hit.id}` })),
      grouped ? productLine(hit) : null,
      h('div', { class: 'card-score', title: exact },
        h('span', { class: 'score', 'data-testid': 'result-score', text: fmt(sim) }),
        h('span', { class: 'score-label', text: 'similarity' }),
        typeof hit.logit === 'number'
          ? h('span', { class: 'logit', 'data-testid': 'result-logit', 'data-logit': String(hit.logit), text: logitText(hit.logit) })
          : null),
      meter),
    h('div', { class: 'card-actions' }, heat, compare, more));

  const cardState = { hit, img, heat, busy, mapNote, key: null };
  card._state = cardState;

  heat.addEventListener('click', async () => {
    if (heat.getAttribute('aria-pressed') === 'true') {
      heat.setAttribute('aria-pressed', 'false');
      img.src = hit.thumbnail_url;
      img.alt = `Result ${rank}: ${label}`;
      thumb.classList.remove('showing-map');
      mapNote.hidden = true;
      delete card.dataset.mapFlat;
      return;
    }
    heat.setAttribute('aria-pressed', 'true');
    await showCardMap(card);
  });
  compare.addEventListener('click', () => openCompare(hit, rank));
  more.addEventListener('click', () => setQueryId(hit));
  return card;
}

const choiceKey = (c) => `${c.method}|${c.target}|${c.masks ?? ''}`;

/** Fetches (or reuses) the card's explanation with the sidebar's choice and shows its map. */
async function showCardMap(card) {
  const s = card._state;
  let choice;
  try {
    choice = sidebarChoice();
  } catch (e) {
    s.heat.setAttribute('aria-pressed', 'false');
    showError(e);
    return;
  }
  const { method } = choice;
  const key = choiceKey(choice);
  s.key = key;
  s.heat.disabled = true;
  s.busy.hidden = false;
  s.busy.querySelector('.thumb-busy-text').textContent = `explaining with ${method}…`;
  const done = progress(`explaining #${s.hit.id} with ${method}…`);
  s.heat.setAttribute('aria-busy', 'true');
  try {
    const ex = await explain(s.hit.id, { ...choice, layer: 'last' });
    if (s.key !== key || s.heat.getAttribute('aria-pressed') !== 'true') return;
    const map = ex.hit.factual;
    s.img.src = map.png;
    s.img.alt = `Factual ${method} map over result #${s.hit.id}`;
    s.img.closest('.thumb').classList.add('showing-map');
    s.mapNote.hidden = false;
    const why = ex.factual_target === 'distance' ? 'why different' : 'why same';
    s.mapNote.textContent = map.flat ? `flat: ${map.flat_reason || 'no signal'}` : `${mapMethod(map, method)} · ${why}`;
    s.mapNote.title = map.flat && map.flat_reason ? map.flat_reason : '';
    s.mapNote.classList.toggle('flat', !!map.flat);
    card.dataset.mapFlat = map.flat ? 'true' : 'false';
    done(`explained #${s.hit.id} with ${mapMethod(map, method)}`);
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

/** When the sidebar's explainer changes, maps already shown switch to it. */
export function refreshShownMaps() {
  let choice;
  try {
    choice = sidebarChoice();
  } catch {
    return; // the bad masks field says so when a map is asked for
  }
  for (const card of el.results.querySelectorAll('.card')) {
    const s = card._state;
    if (s && s.heat.getAttribute('aria-pressed') === 'true' && s.key !== choiceKey(choice)) showCardMap(card);
  }
}
