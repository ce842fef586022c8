// Small helpers that build DOM and SVG nodes.

export const $ = (id) => document.getElementById(id);

/** `h('span', {class: 'x', text: 'hi', onclick: f}, ...children)`. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';
export function svgEl(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  return node;
}

export function spinner() {
  return h('span', { class: 'spinner', 'aria-hidden': 'true' });
}

/** The Same / Different badge. */
export function badge(same) {
  return h('span', { class: `badge ${same ? 'badge-same' : 'badge-diff'}`, text: same ? 'Same' : 'Different' });
}

/** The "more like this" icon: a picture and a magnifier. */
export function moreIcon() {
  const svg = svgEl('svg', { viewBox: '0 0 24 24', width: 16, height: 16, 'aria-hidden': 'true' });
  svg.append(
    svgEl('rect', { x: 3, y: 3, width: 9, height: 9, rx: 2, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.8 }),
    svgEl('circle', { cx: 16, cy: 16, r: 4.2, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.8 }),
    svgEl('path', { d: 'M19.2 19.2 22 22', stroke: 'currentColor', 'stroke-width': 1.8, 'stroke-linecap': 'round' }));
  return svg;
}
