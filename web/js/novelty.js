// "Nothing like this here": the notice above the results when the best match is farther from
// the query than almost every catalogue image is from its own nearest neighbour.

import { fmt, ownDigits, percent } from './format.js';
import { el, state } from './state.js';

export function renderNovelty() {
  const n = state.novelty;
  const show = state.outOfCatalogue && state.hits.length > 0;
  el.novelty.hidden = !show;
  if (!show) {
    el.noveltyMessage.textContent = '';
    el.noveltyDetail.textContent = '';
    return;
  }
  // `percentile`: the share of catalogue images whose own nearest neighbour is at most as close
  // as this query's best match; the rest are closer to their neighbour than the query is to it.
  const closer = n && typeof n.percentile === 'number' ? 100 - n.percentile : null;
  let share = closer === null ? null : `${percent(closer)}%`;
  if (share === '100%') share = 'all (100%)';
  el.noveltyMessage.textContent = share === null
    ? 'Nothing like this in the catalogue: the best match is farther than almost every catalogue image is from its own nearest neighbour.'
    : `Nothing like this in the catalogue: the best match is farther than ${share} of the catalogue's images are from their own nearest neighbour.`;
  const logit = (x) => fmt(x, ownDigits(x));
  el.noveltyDetail.textContent = n
    ? `Best match: logit ${logit(n.best_logit)}, at percentile ${percent(n.percentile)} of ${n.sample} nearest-neighbour logits; `
      + `the notice shows below percentile ${percent(n.cutoff_percentile)} (logit ${logit(n.cutoff_logit)}). `
      + 'The results below are only the least unlike images.'
    : '';
}
