// The "similar products" widget: one script tag and one element on any page.
//
//   <script src="https://LOOKALIKE/widget.js" data-key="READ_KEY" defer></script>
//   <lookalike-similar collection="catalogue" product="P00042" k="6"></lookalike-similar>
//
// `<lookalike-similar>` is a custom element with its own shadow DOM, so the host page's styles
// do not reach it and its styles do not leak out. It asks the Lookalike server the script came
// from for the k most similar *products* (`group_by: "product"`) to a product (`product=`) or to
// a picture (`image-url=`, fetched by the page), shows them as cards (thumbnail, title, price,
// similarity, logit), and on "why?" shows the two maps of the explanation API: where the query
// and the hit look alike. Optional attributes: `filter` (a condition such as `in_stock`, or a
// JSON list of them), `link` (a URL with `{product}`, making cards links), `key` and `api` (to
// override the script's `data-key` and origin). Failures are shown inside the element.
//
// It is a classic script, not a module: a cross-origin module would need CORS just to load.
(() => {
  'use strict';

  const script = document.currentScript;
  const DEFAULT_API = script && script.src ? new URL('.', script.src).href : null;
  const DEFAULT_KEY = script ? script.dataset.key || '' : '';

  const STYLE = `
    :host { all: initial; display: block; position: relative; }
    /* The page can style the element itself, not this: every inherited property starts afresh. */
    .wrap { all: initial; display: block; position: relative; min-height: 40px;
      font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f;
      --accent: var(--lookalike-accent, #2856d6); }
    * { box-sizing: border-box; }
    h2 { font-size: 15px; font-weight: 600; margin: 0 0 8px; }
    .grid { display: grid; gap: 10px; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); }
    .card { display: flex; flex-direction: column; border: 1px solid #d9d9de; border-radius: 8px;
      background: #fff; overflow: hidden; color: inherit; text-decoration: none; }
    .thumb { width: 100%; aspect-ratio: 1; object-fit: contain; background: #f4f4f6; display: block; }
    .body { padding: 6px 8px 8px; display: grid; gap: 2px; }
    .title { font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
    .meta { color: #5b5b66; font-size: 12px; }
    .row { display: flex; justify-content: space-between; align-items: center; gap: 4px; }
    .sim { font-variant-numeric: tabular-nums; color: var(--accent); font-weight: 600; white-space: nowrap; }
    .out { color: #a33; }
    button { font: inherit; font-size: 12px; border: 1px solid var(--accent); color: var(--accent);
      background: #fff; border-radius: 999px; padding: 1px 9px; cursor: pointer; }
    button:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
    .status { color: #5b5b66; padding: 8px 0; }
    .error { border: 1px solid #e0b4b4; background: #fff6f6; color: #8a1f1f; border-radius: 8px;
      padding: 10px 12px; }
    .why { position: absolute; inset: 30px 0 auto 0; margin: 0 auto; max-width: 520px; z-index: 1;
      background: #fff; border: 1px solid #b9b9c3; border-radius: 10px; padding: 12px;
      box-shadow: 0 8px 28px rgba(0, 0, 0, .18); }
    .maps { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; margin: 8px 0; }
    figure { margin: 0; } figure img { width: 100%; border-radius: 6px; image-rendering: pixelated; }
    figcaption { font-size: 12px; color: #5b5b66; text-align: center; }
    [hidden] { display: none !important; }
  `;

  /** An element `tag` with attributes and children (strings become text). */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v === true ? '' : v);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  /** A failed call, with what to tell the shopper's page. */
  class WidgetError extends Error {}

  function formatPrice(m) {
    if (typeof m.price !== 'number') return '';
    try {
      if (m.currency) return new Intl.NumberFormat(undefined, { style: 'currency', currency: m.currency }).format(m.price);
    } catch { /* an unknown currency code: show it as text */ }
    return `${m.price.toFixed(2)}${m.currency ? ` ${m.currency}` : ''}`;
  }

  function inStock(m) {
    if (typeof m.in_stock === 'boolean') return m.in_stock;
    if (typeof m.availability === 'string') return !/out.of.stock/i.test(m.availability);
    return true;
  }

  class LookalikeSimilar extends HTMLElement {
    static get observedAttributes() { return ['collection', 'product', 'image-url', 'k', 'filter', 'key', 'api']; }

    constructor() {
      super();
      this.root = this.attachShadow({ mode: 'open' });
      this.root.append(el('style', { text: STYLE }));
      this.view = el('div', { class: 'wrap', part: 'container' });
      this.root.append(this.view);
      this.urls = [];
      this.generation = 0;
      this.onKey = (e) => { if (e.key === 'Escape') this.closeWhy(); };
    }

    connectedCallback() { this.schedule(); document.addEventListener('keydown', this.onKey); }
    disconnectedCallback() { document.removeEventListener('keydown', this.onKey); this.release(); }
    attributeChangedCallback() { if (this.isConnected) this.schedule(); }

    get api() { return this.getAttribute('api') || DEFAULT_API; }
    get key() { return this.getAttribute('key') || DEFAULT_KEY; }
    get collection() { return this.getAttribute('collection') || ''; }

    /** Renders once after a burst of attribute changes. */
    schedule() {
      if (this.pending) return;
      this.pending = true;
      queueMicrotask(() => { this.pending = false; this.load(); });
    }

    release() { for (const u of this.urls) URL.revokeObjectURL(u); this.urls = []; }

    /** `fetch` against the server with the key; JSON, or a WidgetError that says why. */
    async call(path, { body, raw } = {}) {
      const headers = {};
      if (this.key) headers['X-API-Key'] = this.key;
      if (body) headers['Content-Type'] = 'application/json';
      let response;
      try {
        response = await fetch(new URL(path, this.api), { method: body ? 'POST' : 'GET', headers, body: body && JSON.stringify(body) });
      } catch {
        throw new WidgetError(`Similar products are unavailable: the Lookalike server at ${new URL(this.api).origin} `
          + `could not be reached from ${location.origin}. Is it running, and does it allow this site `
          + `(lookalike serve --cors-origin ${location.origin})?`);
      }
      if (!response.ok) {
        let message = `${response.status} ${response.statusText}`;
        try { message = (await response.json()).error.message || message; } catch { /* not JSON */ }
        throw new WidgetError(`Similar products are unavailable: ${message}`);
      }
      return raw ? response.blob() : response.json();
    }

    /** The query: `{product}` or `{image}` (base64 of the picture at `image-url`). */
    async query() {
      const product = this.getAttribute('product');
      if (product) return { product };
      const url = this.getAttribute('image-url');
      if (!url) throw new WidgetError('Set product="ID" or image-url="URL" on <lookalike-similar>.');
      let blob;
      try {
        const r = await fetch(new URL(url, location.href));
        if (!r.ok) throw new Error(String(r.status));
        blob = await r.blob();
      } catch (e) {
        throw new WidgetError(`Could not read the picture ${url}: ${e.message}`);
      }
      const data = await new Promise((resolve) => {
        const reader = new FileReader();
        reader.onload = () => resolve(String(reader.result).split(',')[1]);
        reader.readAsDataURL(blob);
      });
      return { image: data };
    }

    filter() {
      const f = this.getAttribute('filter');
      if (!f) return undefined;
      if (f.trim().startsWith('[')) { try { return JSON.parse(f); } catch { /* a condition */ } }
      return f;
    }

    async load() {
      const generation = ++this.generation;
      const stale = () => generation !== this.generation;
      this.release();
      this.view.replaceChildren(el('div', { class: 'status', 'data-testid': 'widget-loading', text: 'Finding similar products…' }));
      try {
        if (!this.api) throw new WidgetError('Load widget.js from a Lookalike server, or set api="https://…/".');
        if (!this.collection) throw new WidgetError('Set collection="NAME" on <lookalike-similar>.');
        const k = Math.max(1, Math.min(50, Number(this.getAttribute('k')) || 6));
        this.asked = await this.query();
        const found = await this.call(`api/collections/${encodeURIComponent(this.collection)}/search`, {
          body: { ...this.asked, k, group_by: 'product', filter: this.filter() },
        });
        if (stale()) return;
        this.render(found.groups, stale);
      } catch (e) {
        if (stale()) return;
        const message = e instanceof WidgetError ? e.message : `Similar products are unavailable: ${e.message}`;
        this.view.replaceChildren(el('div', { class: 'error', role: 'alert', part: 'error', 'data-testid': 'widget-error', text: message }));
        this.dispatchEvent(new CustomEvent('lookalike-error', { detail: { message } }));
      }
    }

    render(groups, stale) {
      if (!groups.length) {
        this.view.replaceChildren(el('div', { class: 'status', 'data-testid': 'widget-empty', text: 'No similar products found.' }));
        return;
      }
      const grid = el('div', { class: 'grid', 'data-testid': 'widget-grid' });
      this.panel = el('div', { class: 'why', role: 'dialog', 'aria-label': 'Why is this similar?', 'data-testid': 'widget-why', hidden: true });
      this.view.replaceChildren(el('h2', { part: 'title', text: 'Similar products' }), grid, this.panel);
      const link = this.getAttribute('link');
      for (const g of groups) {
        const m = g.best.metadata || {};
        const thumb = el('img', { class: 'thumb', alt: m.title || g.group || '', 'data-testid': 'widget-thumb' });
        const why = el('button', { type: 'button', 'data-testid': 'widget-why-button', text: 'why?' });
        why.addEventListener('click', (e) => { e.preventDefault(); this.openWhy(g, why); });
        const price = formatPrice(m);
        const card = el(link ? 'a' : 'div', {
          class: 'card', part: 'card', 'data-testid': 'widget-card', 'data-product': g.group ?? '', 'data-id': g.best.id,
          href: link ? link.replace('{product}', encodeURIComponent(g.group ?? '')) : undefined,
        },
        thumb,
        el('div', { class: 'body' },
          el('div', { class: 'title', title: m.title || '', text: m.title || g.group || `image ${g.best.id}` }),
          el('div', { class: 'meta' }, m.brand ? `${m.brand} · ` : '', price,
            inStock(m) ? null : el('span', { class: 'out', text: ' · out of stock' })),
          el('div', { class: 'row' },
            el('span', {
              class: 'sim', 'data-testid': 'widget-similarity', 'data-similarity': g.similarity,
              title: `similarity ${g.similarity.toFixed(3)}, logit ${g.best.logit.toFixed(2)}`,
              text: `${Math.round(g.similarity * 100)}% similar`,
            }),
            why),
          el('div', { class: 'meta', 'data-testid': 'widget-logit', text: `logit ${g.best.logit >= 0 ? '+' : ''}${g.best.logit.toFixed(2)}` })));
        grid.append(card);
        this.call(g.best.thumbnail_url.replace(/^\//, ''), { raw: true }).then((blob) => {
          if (stale()) return;
          const url = URL.createObjectURL(blob);
          this.urls.push(url);
          thumb.src = url;
        }, () => { thumb.alt = 'no thumbnail'; });
      }
    }

    /** The stored image the query stands for, for the explanation: the product's first image. */
    async queryImage() {
      if (this.asked.image) return { image: this.asked.image };
      if (this.queryId === undefined || this.queryFor !== this.asked.product) {
        const p = await this.call(`api/collections/${encodeURIComponent(this.collection)}/products/${encodeURIComponent(this.asked.product)}`);
        this.queryId = p.images[0].id;
        this.queryFor = this.asked.product;
      }
      return { id: this.queryId };
    }

    async openWhy(group, button) {
      const pop = this.panel;
      const close = el('button', { type: 'button', 'data-testid': 'widget-why-close', text: 'close' });
      close.addEventListener('click', () => this.closeWhy());
      const head = el('div', { class: 'row' }, el('strong', { text: `Why ${group.best.metadata?.title || group.group}?` }), close);
      pop.replaceChildren(head, el('div', { class: 'status', text: 'Asking the model…' }));
      pop.hidden = false;
      this.opener = button;
      close.focus();
      try {
        const e = await this.call(`api/collections/${encodeURIComponent(this.collection)}/explain`, {
          body: { ...(await this.queryImage()), hit: group.best.id },
        });
        if (pop.hidden) return;
        const what = e.same ? 'what makes them look alike' : 'what makes them differ';
        pop.replaceChildren(head,
          el('div', { class: 'meta', text: `Highlighted: ${what} to the model (${e.method}), similarity ${(e.similarity * 100).toFixed(1)}%, logit ${e.logit.toFixed(2)}.` }),
          el('div', { class: 'maps' },
            el('figure', {}, el('img', { src: e.query.factual.png, alt: 'map on this product', 'data-testid': 'widget-map-query' }),
              el('figcaption', { text: 'this product' })),
            el('figure', {}, el('img', { src: e.hit.factual.png, alt: 'map on the similar product', 'data-testid': 'widget-map-hit' }),
              el('figcaption', { text: group.best.metadata?.title || group.group || 'similar product' }))));
      } catch (err) {
        if (pop.hidden) return;
        pop.replaceChildren(head, el('div', { class: 'error', role: 'alert', 'data-testid': 'widget-error', text: err.message }));
      }
    }

    closeWhy() {
      if (!this.panel || this.panel.hidden) return;
      this.panel.hidden = true;
      this.opener?.focus();
    }
  }

  if (!customElements.get('lookalike-similar')) customElements.define('lookalike-similar', LookalikeSimilar);
})();
