// Browser tests of the shop parts of the web UI (issue 16): search by a region dragged on the
// query, the auto-crop box the server used, grouping by product, and the filters of the shop
// grammar, in Debian's headless Chromium driven by playwright-core.
//
// The catalogue is a generated product feed (9 products, 24 photos: one product has 8
// near-identical photos; price, brand, in_stock and, for some, color) imported with
// `lookalike index import`. Every answer the page shows is checked against the API's own answer
// to the same request, and each filter against the catalogue's metadata. Screenshots go to
// docs/screenshots/shop-*.png.
//
//   node --test tests/browser/shop.test.js       (LOOKALIKE_BIN, LOOKALIKE_WEB_DIR as in ui.test.js)

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serveWebDir } from './web-dir.mjs';
import {
  BIN, CHROMIUM, SHOTS, WEB_DIR, SIZE, WHITE, CLASSES, png, rng, dropFile, launchBrowser, startServer, stopServer,
  waitLoaded,
  setUpRun,
} from './harness.mjs';

// ---------------------------------------------------------------------------------------------
// The catalogue

/** [id, class, photos, price, brand, in_stock, color]; SKU-DISC-A's photos are one picture with
 *  one pixel changed each. */
const PRODUCTS = [
  ['SKU-DISC-A', 'disc', 8, 25, 'acme', true, 'red'],
  ['SKU-DISC-B', 'disc', 2, 45, 'globex', false, 'red'],
  ['SKU-DISC-C', 'disc', 2, 80, 'initech', true, null],
  ['SKU-SQ-A', 'square', 2, 15, 'acme', true, 'blue'],
  ['SKU-SQ-B', 'square', 2, 60, 'globex', true, null],
  ['SKU-ST-A', 'stripes', 2, 30, 'initech', false, 'green'],
  ['SKU-ST-B', 'stripes', 2, 99.5, 'acme', true, null],
  ['SKU-CH-A', 'checker', 2, 20, 'globex', true, 'yellow'],
  ['SKU-CH-B', 'checker', 2, 70, 'initech', false, null],
];
const PHOTOS = PRODUCTS.reduce((n, p) => n + p[2], 0);

/** The pixels of each photo: {product: [pixel(x, y)]}. */
function photoPixels() {
  const out = {};
  let seed = 11;
  for (const [id, cls, photos] of PRODUCTS) {
    out[id] = [];
    const base = CLASSES[cls](rng(seed * 7919));
    for (let i = 0; i < photos; i += 1) {
      if (id === 'SKU-DISC-A') {
        out[id].push((x, y) => (x === i && y === 0 ? [i * 20, 255, 0] : base(x, y)));
      } else {
        seed += 1;
        out[id].push(CLASSES[cls](rng(seed * 7919)));
      }
    }
    seed += 1;
  }
  return out;
}

/** Writes the photos and a Merchant Center feed (CSV) for them; returns the feed's path. */
function writeFeed(dir, pixels) {
  const rows = ['id,title,image_link,additional_image_link,price,brand,in_stock,color'];
  for (const [id, cls, photos, price, brand, inStock, color] of PRODUCTS) {
    fs.mkdirSync(path.join(dir, id), { recursive: true });
    const links = [];
    for (let i = 0; i < photos; i += 1) {
      const rel = `${id}/${i}.png`;
      fs.writeFileSync(path.join(dir, rel), png(SIZE, pixels[id][i]));
      links.push(rel);
    }
    rows.push([id, `${brand} ${cls}`, links[0], `"${links.slice(1).join(',')}"`, `${price.toFixed(2)} EUR`,
      brand, String(inStock), color ?? ''].join(','));
  }
  const feed = path.join(dir, 'feed.csv');
  fs.writeFileSync(feed, `${rows.join('\n')}\n`);
  return feed;
}

/** A `width`×`height` PNG on the catalogue's white with `pixel` (a SIZE×SIZE photo) at (x0, y0). */
function composite(width, height, parts) {
  return png(width, (x, y) => {
    for (const [pixel, x0, y0] of parts) {
      if (x >= x0 && x < x0 + SIZE && y >= y0 && y < y0 + SIZE) return pixel(x - x0, y - y0);
    }
    return WHITE;
  }, height);
}

// ---------------------------------------------------------------------------------------------
// Driving the page

/** Records the text fields of every form the page posts (window.__posted), files as their names. */
function recordForms() {
  window.__posted = [];
  const original = window.fetch;
  window.fetch = (url, init = {}) => {
    if (init.body instanceof FormData) {
      const fields = {};
      for (const [k, v] of init.body.entries()) fields[k] = v instanceof File ? `file:${v.name}` : v;
      window.__posted.push({ url: String(url), fields, files: [...init.body.values()].filter((v) => v instanceof File) });
    }
    return original(url, init);
  };
}

/** Runs `action` and waits for the search it starts to come back and be shown; returns the form
 *  fields it posted and the answer's status. */
async function searchBy(page, action) {
  const sent = await page.evaluate(() => window.__posted.length);
  const response = page.waitForResponse((r) => r.url().endsWith('/search') && r.request().method() === 'POST');
  await action();
  const r = await response;
  await page.waitForFunction(() => document.querySelector('[data-testid=search-button]').getAttribute('aria-busy') !== 'true');
  const fields = await page.evaluate((n) => window.__posted.slice(n).filter((p) => p.url.endsWith('/search')).map((p) => p.fields), sent);
  assert.equal(fields.length, 1, `one search per action: ${JSON.stringify(fields)}`);
  return { fields: fields[0], status: r.status() };
}

function readCards(page) {
  return page.$$eval('[data-testid=result-card]', (cards) => cards.map((c) => ({
    id: Number(c.dataset.id),
    product: c.dataset.product ?? null,
    others: c.querySelector('[data-testid=result-group]')?.dataset.others ?? null,
    othersText: c.querySelector('[data-testid=result-others]')?.textContent ?? null,
  })));
}

/** Drags on the query picture from one point to another, both in fractions of the picture. */
async function dragBox(page, from, to) {
  await waitLoaded(page, '[data-testid=query-image]');
  const r = await page.evaluate(() => {
    const img = document.querySelector('[data-testid=query-image]');
    const b = img.getBoundingClientRect();
    const s = Math.min(b.width / img.naturalWidth, b.height / img.naturalHeight);
    const w = img.naturalWidth * s;
    const h = img.naturalHeight * s;
    return { left: b.left + (b.width - w) / 2, top: b.top + (b.height - h) / 2, width: w, height: h };
  });
  const at = ([fx, fy]) => [r.left + fx * r.width, r.top + fy * r.height];
  await page.mouse.move(...at(from));
  await page.mouse.down();
  await page.mouse.move(...at(to), { steps: 8 });
  await page.mouse.up();
}

const boxOf = (page) => page.evaluate(() => {
  const b = document.querySelector('[data-testid=region-box]');
  return b.hidden ? null : { kind: b.dataset.kind, box: b.dataset.box.split(',').map(Number) };
});

// ---------------------------------------------------------------------------------------------

describe('shop UI: region, auto crop, products and filters', { timeout: 600_000 }, () => {
  let tmp;
  let server;
  let context;
  let page;
  let pixels;
  const pageErrors = [];

  /** The API's answer to a JSON search with the query image `bytes`. */
  async function apiSearch(bytes, body) {
    const res = await fetch(new URL('api/collections/shop/search', server.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ image: Buffer.from(bytes).toString('base64'), ...body }),
    });
    return { status: res.status, body: await res.json() };
  }

  async function query(bytes, name) {
    return searchBy(page, () => dropFile(page, '[data-testid=drop-zone]', bytes, name, 'image/png'));
  }

  before(async () => {
    tmp = setUpRun('shop');
    pixels = photoPixels();
    const photos = path.join(tmp, 'photos');
    const feed = writeFeed(photos, pixels);
    const data = path.join(tmp, 'data');
    const run = (args) => execFileSync(BIN, [...args, '--data-dir', data], { stdio: ['ignore', 'pipe', 'pipe'] });
    run(['index', 'create', 'shop', '--model', 'zero-shot']);
    const report = JSON.parse(run(['index', 'import', 'shop', feed, '--images-root', photos, '--json', '-q']).toString());
    assert.equal(report.added, PRODUCTS.length, JSON.stringify(report));
    assert.deepEqual(report.failed, []);
    server = await startServer(data);
    ({ context, page } = await launchBrowser(chromium, path.join(tmp, 'profile')));
    await page.addInitScript(recordForms);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    if (WEB_DIR) await serveWebDir(page, new URL(server.url).origin, WEB_DIR);
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready=true]');
  });

  after(async () => {
    await context?.close().catch(() => {});
    await stopServer(server);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('a box dragged on the query searches that region on release, and can be cleared', async () => {
    // A disc of SKU-DISC-B on the left, a square of SKU-SQ-A on the right.
    const outfit = composite(2 * SIZE, SIZE, [[pixels['SKU-DISC-B'][0], 0, 0], [pixels['SKU-SQ-A'][0], SIZE, 0]]);
    await page.fill('[data-testid=k-input]', '5');
    const whole = await query(outfit, 'outfit.png');
    assert.equal(whole.fields.crop, undefined, 'no box yet');
    assert.equal(await boxOf(page), null);

    // The right half: the square is found first.
    const right = await searchBy(page, () => dragBox(page, [0.52, 0.03], [0.98, 0.97]));
    const drawn = await boxOf(page);
    assert.equal(drawn.kind, 'drawn');
    assert.deepEqual(right.fields.crop.split(',').map(Number), drawn.box, 'the search sends the drawn box');
    const [x, y, w, h] = drawn.box;
    assert.ok(Math.abs(x - 0.52) < 0.02 && Math.abs(y - 0.03) < 0.02 && Math.abs(w - 0.46) < 0.02 && Math.abs(h - 0.94) < 0.02, `box ${drawn.box}`);
    const api = await apiSearch(outfit, { k: 5, crop: drawn.box });
    assert.equal(api.status, 200, JSON.stringify(api.body));
    const shown = (await readCards(page)).map((c) => c.id);
    assert.deepEqual(shown, api.body.hits.map((h) => h.id), 'the page shows the API\'s answer for the box');
    assert.equal(api.body.hits[0].metadata.product, 'SKU-SQ-A');
    assert.equal(api.body.crop.method, 'given');
    assert.match(await page.textContent('[data-testid=region-info]'), /Searching the box \d+ × \d+ px/);
    await page.screenshot({ path: path.join(SHOTS, 'shop-region.png') });

    // A heatmap explains the region that was searched: the query sent is the box's pixels.
    await page.click('[data-testid=result-card]:first-child [data-testid=heatmap-toggle]');
    await page.waitForSelector('[data-testid=result-card]:first-child .thumb.showing-map');
    const upload = await page.evaluate(async () => {
      const post = window.__posted.filter((p) => p.url.endsWith('/explain')).pop();
      const bitmap = await createImageBitmap(post.files[0]);
      return { image: post.fields.image, size: [bitmap.width, bitmap.height] };
    });
    assert.equal(upload.image, 'file:query-region.png', 'the region is uploaded');
    assert.deepEqual(upload.size, api.body.crop.box.slice(2), 'a picture of the box');

    // The left half: the disc is found first, and the results changed.
    await searchBy(page, () => dragBox(page, [0.48, 0.97], [0.02, 0.03]));
    const left = await boxOf(page);
    assert.ok(left.box[0] < 0.03 && left.box[0] + left.box[2] < 0.5, `box ${left.box}`);
    const leftApi = await apiSearch(outfit, { k: 5, crop: left.box });
    const leftShown = (await readCards(page)).map((c) => c.id);
    assert.deepEqual(leftShown, leftApi.body.hits.map((h) => h.id));
    assert.equal(leftApi.body.hits[0].metadata.product, 'SKU-DISC-B');
    assert.notDeepEqual(leftShown, shown, 'another region, other results');

    // A click is no box: nothing is searched, the box stays.
    let searched = false;
    const onRequest = (r) => { if (r.url().endsWith('/search')) searched = true; };
    page.on('request', onRequest);
    await dragBox(page, [0.7, 0.5], [0.7, 0.5]);
    await page.waitForTimeout(300);
    page.off('request', onRequest);
    assert.equal(searched, false);
    assert.deepEqual((await boxOf(page)).box, left.box);

    // Escape on the focused picture clears the box and searches the whole image again.
    await page.focus('[data-testid=region-frame]');
    const cleared = await searchBy(page, () => page.keyboard.press('Escape'));
    assert.equal(cleared.fields.crop, undefined);
    assert.equal(await boxOf(page), null);
    assert.equal(await page.isVisible('[data-testid=region-clear]'), false);
    const wholeApi = await apiSearch(outfit, { k: 5 });
    assert.deepEqual((await readCards(page)).map((c) => c.id), wholeApi.body.hits.map((h) => h.id));

    // The button clears too.
    await searchBy(page, () => dragBox(page, [0.55, 0.1], [0.95, 0.9]));
    assert.equal(await page.isVisible('[data-testid=region-clear]'), true);
    const byButton = await searchBy(page, () => page.click('[data-testid=region-clear]'));
    assert.equal(byButton.fields.crop, undefined);
    assert.equal(await boxOf(page), null);
  });

  test('auto crop sends auto_crop and draws the box the server used', async () => {
    // SKU-CH-A's checkerboard, small, on a white page.
    const photo = composite(2 * SIZE, 2 * SIZE, [[pixels['SKU-CH-A'][0], 96, 64]]);
    await query(photo, 'small-product.png');
    const auto = await searchBy(page, () => page.check('[data-testid=auto-crop]'));
    assert.equal(auto.fields.auto_crop, 'true');
    assert.equal(auto.fields.crop, undefined);
    const api = await apiSearch(photo, { k: 5, auto_crop: true });
    assert.equal(api.body.crop.method, 'auto');
    const [iw, ih] = api.body.crop.image_size;
    assert.deepEqual([iw, ih], [2 * SIZE, 2 * SIZE]);
    const drawn = await boxOf(page);
    assert.equal(drawn.kind, 'auto');
    const expected = api.body.crop.box.map((v, i) => v / (i % 2 ? ih : iw));
    drawn.box.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-3, `drawn ${drawn.box}, server ${expected}`));
    // The object's box, within the 1% padding.
    [96 / 256, 64 / 256, 0.5, 0.5].forEach((v, i) => assert.ok(Math.abs(drawn.box[i] - v) < 0.03, `box ${drawn.box}`));
    assert.equal(api.body.hits[0].metadata.product, 'SKU-CH-A');
    assert.deepEqual((await readCards(page)).map((c) => c.id), api.body.hits.map((h) => h.id));
    assert.match(await page.textContent('[data-testid=region-info]'), /^Auto crop: the main object, \d+ × \d+ px/);
    await page.screenshot({ path: path.join(SHOTS, 'shop-auto-crop.png') });

    // Drawing a box replaces the auto crop; unchecking it searches the whole image.
    const drawnBox = await searchBy(page, () => dragBox(page, [0.1, 0.1], [0.6, 0.6]));
    assert.ok(drawnBox.fields.crop && drawnBox.fields.auto_crop === undefined, JSON.stringify(drawnBox.fields));
    assert.equal(await page.isChecked('[data-testid=auto-crop]'), false);
    assert.equal((await boxOf(page)).kind, 'drawn');
    await searchBy(page, () => page.click('[data-testid=region-clear]'));
  });

  test('grouping by product gives k distinct products when one has many near-identical photos', async () => {
    const photo = png(SIZE, pixels['SKU-DISC-A'][0]);
    await query(photo, 'disc-a.png');
    const flat = await apiSearch(photo, { k: 5 });
    assert.ok(flat.body.hits.every((h) => h.metadata.product === 'SKU-DISC-A'), 'ungrouped, one product fills the page');
    assert.deepEqual((await readCards(page)).map((c) => c.id), flat.body.hits.map((h) => h.id));

    const grouped = await searchBy(page, () => page.check('[data-testid=group-by]'));
    assert.equal(grouped.fields.group_by, 'product');
    const api = await apiSearch(photo, { k: 5, group_by: 'product' });
    const cards = await readCards(page);
    assert.equal(cards.length, 5);
    assert.equal(new Set(cards.map((c) => c.product)).size, 5, 'five distinct products');
    assert.deepEqual(cards.map((c) => c.product), api.body.groups.map((g) => g.group));
    assert.deepEqual(cards.map((c) => c.id), api.body.groups.map((g) => g.best.id), 'each with its best image');
    cards.forEach((c, i) => assert.equal(c.others, api.body.groups[i].other_ids.join(',')));
    assert.equal(cards[0].product, 'SKU-DISC-A');
    assert.equal(api.body.groups[0].other_ids.length, 7);
    assert.match(cards[0].othersText, /^\+7 other images: #\d+/);
    assert.match(await page.textContent('[data-testid=status]'), /^5 products/);
    await page.screenshot({ path: path.join(SHOTS, 'shop-grouped.png') });

    await searchBy(page, () => page.uncheck('[data-testid=group-by]'));
    assert.deepEqual((await readCards(page)).map((c) => c.id), flat.body.hits.map((h) => h.id));
  });

  test('each filter operator narrows the results to what matches, as the API answers', async () => {
    const photo = png(SIZE, pixels['SKU-SQ-A'][0]);
    await page.fill('[data-testid=k-input]', '50');
    await query(photo, 'square-a.png');
    const all = await apiSearch(photo, { k: 50 });
    assert.equal(all.body.hits.length, PHOTOS);
    const meta = new Map(all.body.hits.map((h) => [h.id, h.metadata]));

    /** Sets the filter with `act`, then checks the page's ids against the API and the truth. */
    async function check(act, conditions, truth) {
      const { fields, status } = await searchBy(page, act);
      assert.equal(status, 200);
      assert.deepEqual(JSON.parse(fields.filter), conditions, 'the filter sent');
      const chips = await page.$$eval('[data-testid=filter-chip]', (cs) => cs.map((c) => c.dataset.condition));
      assert.deepEqual(chips, conditions, 'one chip per condition');
      const shown = (await readCards(page)).map((c) => c.id);
      const api = await apiSearch(photo, { k: 50, filter: conditions });
      assert.deepEqual(shown, api.body.hits.map((h) => h.id), `${conditions}: the API's answer`);
      const want = [...meta].filter(([, m]) => truth(m)).map(([id]) => id).sort((a, b) => a - b);
      assert.ok(want.length > 0 && want.length < PHOTOS, `${conditions} narrows`);
      assert.deepEqual([...shown].sort((a, b) => a - b), want, `${conditions}: exactly the matching images`);
    }
    const typed = (text) => async () => {
      await page.fill('[data-testid=filter-input]', text);
      await page.press('[data-testid=filter-input]', 'Enter');
    };
    const built = (key, op, a = '', b = '') => async () => {
      await page.fill('[data-testid=filter-input]', '');
      await page.fill('[data-testid=filter-key]', key);
      await page.selectOption('[data-testid=filter-op]', op);
      if (a) await page.fill('[data-testid=filter-value]', a);
      if (b) await page.fill('[data-testid=filter-value2]', b);
      await page.click('[data-testid=filter-add]');
    };

    await check(built('brand', '=', 'acme'), ['brand=acme'], (m) => m.brand === 'acme');
    await check(typed('brand!=acme'), ['brand!=acme'], (m) => m.brand !== 'acme');
    await check(typed('price<30'), ['price<30'], (m) => m.price < 30);
    await check(typed('price>=60'), ['price>=60'], (m) => m.price >= 60);
    await check(built('price', 'between', '20', '60'), ['20<=price<=60'], (m) => m.price >= 20 && m.price <= 60);
    await check(built('brand', 'in', 'acme, initech'), ['brand in (acme, initech)'], (m) => ['acme', 'initech'].includes(m.brand));
    await check(typed('brand not in (acme)'), ['brand not in (acme)'], (m) => m.brand !== 'acme');
    await check(built('in_stock', 'true'), ['in_stock'], (m) => m.in_stock === true);
    await check(typed('in_stock=false'), ['in_stock=false'], (m) => m.in_stock === false);
    await check(built('color', 'exists'), ['color exists'], (m) => 'color' in m);
    await check(built('color', 'missing'), ['not color exists'], (m) => !('color' in m));
    await check(typed('{"brand": ["globex", "initech"]}'), ['brand in (globex, initech)'], (m) => ['globex', 'initech'].includes(m.brand));
    // All must hold; a built condition adds to the typed ones.
    await check(async () => {
      await page.fill('[data-testid=filter-input]', 'price<50');
      await page.fill('[data-testid=filter-key]', 'in_stock');
      await page.selectOption('[data-testid=filter-op]', 'true');
      await page.click('[data-testid=filter-add]');
    }, ['price<50', 'in_stock'], (m) => m.price < 50 && m.in_stock === true);
    await page.evaluate(() => window.scrollTo(0, 0)); // the sticky top bar stays on top
    await page.screenshot({ path: path.join(SHOTS, 'shop-filters.png'), fullPage: true });
    // Removing a chip searches without it.
    await check(() => page.click('[data-testid=filter-chip][data-condition=in_stock] [data-testid=filter-chip-remove]'),
      ['price<50'], (m) => m.price < 50);
    // The key builder offers the catalogue's keys, not the ones the collection writes itself.
    const keys = await page.$$eval('#filter-keys option', (o) => o.map((x) => x.value));
    for (const k of ['brand', 'price', 'in_stock', 'color', 'product']) assert.ok(keys.includes(k), `keys ${keys}`);
    assert.ok(!keys.includes('sha256') && !keys.includes('feed_hash'), `keys ${keys}`);
  });

  test('a bad filter shows the server\'s error and marks the condition, and the page goes on', async () => {
    const before = (await readCards(page)).map((c) => c.id);
    const photo = png(SIZE, pixels['SKU-SQ-A'][0]);
    const api = await apiSearch(photo, { k: 50, filter: ['price<50', 'price<<3'] });
    assert.equal(api.status, 400);
    const res = await searchBy(page, async () => {
      await page.fill('[data-testid=filter-input]', 'price<50, price<<3');
      await page.press('[data-testid=filter-input]', 'Enter');
    });
    assert.equal(res.status, 400);
    await page.waitForSelector('[data-testid=error]', { state: 'visible' });
    const shown = await page.textContent('[data-testid=error-message]');
    assert.ok(shown.includes(api.body.error.message), `shown: ${shown}; server: ${api.body.error.message}`);
    assert.match(shown, /bad filter "price<<3"/);
    assert.match(await page.textContent('[data-testid=error-detail]'), /400/);
    const bad = await page.$$eval('[data-testid=filter-chip].bad', (cs) => cs.map((c) => c.dataset.condition));
    assert.deepEqual(bad, ['price<<3']);
    assert.equal(await page.textContent('[data-testid=filter-error]'), api.body.error.message, 'said under the field too');
    assert.deepEqual((await readCards(page)).map((c) => c.id), before, 'the last results stay');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(SHOTS, 'shop-filter-error.png'), fullPage: true });

    // Removing the bad condition searches again, and the error goes.
    await searchBy(page, () => page.click('[data-testid=filter-chip].bad [data-testid=filter-chip-remove]'));
    assert.equal(await page.isVisible('[data-testid=error]'), false);
    assert.equal(await page.isVisible('[data-testid=filter-error]'), false);
    assert.equal(await page.$$eval('[data-testid=filter-chip].bad', (cs) => cs.length), 0);
    assert.deepEqual((await readCards(page)).map((c) => c.id), before);
  });

  test('the page raised no script errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
