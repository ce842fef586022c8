// The correspondence drawing: both crops side by side with lines between the centres of the
// cell pairs that contribute most to the similarity.

import { svgEl } from './dom.js';
import { fmt } from './format.js';

/** Draws into `svg`; returns the caption. */
export function drawCorrespondence(svg, ex) {
  const C = 224;
  const GAP = 32;
  svg.setAttribute('viewBox', `0 0 ${2 * C + GAP} ${C}`);
  svg.replaceChildren();
  const corr = ex.correspondence;
  svg.append(
    svgEl('image', { href: ex.crops.query, x: 0, y: 0, width: C, height: C, preserveAspectRatio: 'none' }),
    svgEl('image', { href: ex.crops.hit, x: C + GAP, y: 0, width: C, height: C, preserveAspectRatio: 'none' }));
  if (!corr || !Array.isArray(corr.grid) || !Array.isArray(corr.top)) return 'No correspondence for this pair.';
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
  return `The ${top.length} cell pairs (of a ${rows}×${cols} grid) that contribute most to the similarity; thicker lines contribute more.${cos}`;
}
