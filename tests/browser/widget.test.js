// The embeddable "similar products" widget (issue 16, part 5) in headless Chromium, on a shop's
// page from ANOTHER origin than the Lookalike server.
//
// The test imports a small product feed (generated images, two photos for most products, a
// price, a brand and a stock flag) with the CLI, starts a tiny shop site on one local port and
// `lookalike serve --read-key … --cors-origin http://127.0.0.1:SHOP_PORT` on another, and opens
// the shop's product page: the widget's script tag and element, exactly as docs/shop.md tells a
// shop to paste them. It checks the cards (thumbnails, similarities, logits, prices), the "why?"
// popover with the two maps, the style isolation from the page's CSS, a query by a picture of
// the page, and the clear errors of a page on an origin the server does not allow and of a wrong
// key. Screenshots: docs/screenshots/widget-*.png.
//
//   node --test tests/browser/widget.test.js     (from the repository root)
//
// LOOKALIKE_WEB_DIR=web serves /widget.js from web/widget/ instead of the binary's copy.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  BIN, CHROMIUM, SHOTS, WEB_DIR, SIZE, CLASSES, png, rng, writeImages, startServer, stopServer, launchBrowser,
  setUpRun,
} from './harness.mjs';

const READ_KEY = 'widget-read-key';
const QUERY = 'disc-a';

/** The feed: per class, products a (images 0, 1), b (2, 3) and c (4); c is out of stock. */
function feed(images) {
  const rows = ['id,image_link,additional_image_link,title,price,brand,in_stock'];
  for (const [cls, files] of Object.entries(images)) {
    const rel = files.map((f) => path.relative(path.dirname(path.dirname(f)), f));
    const products = [['a', rel[0], rel[1]], ['b', rel[2], rel[3]], ['c', rel[4], '']];
    products.forEach(([p, main, extra], i) => {
      const title = `${cls[0].toUpperCase()}${cls.slice(1)} ${p.toUpperCase()}`;
      rows.push(`${cls}-${p},${main},${extra},${title},${(9.5 + 7 * i).toFixed(2)} EUR,Acme ${cls},${p !== 'c'}`);
    });
  }
  return `${rows.join('\n')}\n`;
}

/** The shop's product page, embedding the widget from `lookalike` as docs/shop.md says. */
function productPage(lookalike, { key = READ_KEY, extra = '' } = {}) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sample shop: Disc A</title>
<style>
  /* A page with loud styles of its own: none of them may reach inside the widget. */
  body { font-family: Georgia, serif; color: rgb(200, 0, 0); background: #fffbea; margin: 24px; }
  img { border: 7px solid lime; } .card { background: black; } button { font-size: 30px; }
</style>
<script src="${lookalike}widget.js" data-key="${key}" defer></script>
</head><body>
<h1 data-testid="shop-title">Disc A</h1>
<p>Acme disc · 9.50 EUR · in stock</p>
<lookalike-similar id="by-product" collection="shop" product="${QUERY}" k="4"></lookalike-similar>
${extra}
</body></html>`;
}

/** A tiny shop site on a free port: `/` is `page`, `/photo.png` a picture of a red disc. */
function shopSite(page) {
  const photo = png(SIZE, CLASSES.disc(rng(99991)));
  const server = http.createServer((req, res) => {
    if (req.url === '/photo.png') {
      res.writeHead(200, { 'Content-Type': 'image/png' });
      res.end(photo);
    } else {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(page());
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    server, origin: `http://127.0.0.1:${server.address().port}`,
  })));
}

/** The widget `selector`'s cards as the shopper sees them. */
function readCards(page, selector) {
  return page.evaluate((sel) => [...document.querySelector(sel).shadowRoot.querySelectorAll('[data-testid=widget-card]')]
    .map((c) => ({
      product: c.dataset.product,
      title: c.querySelector('.title').textContent,
      meta: c.querySelector('.meta').textContent,
      similarity: Number(c.querySelector('[data-testid=widget-similarity]').dataset.similarity),
      similarityText: c.querySelector('[data-testid=widget-similarity]').textContent,
      logitText: c.querySelector('[data-testid=widget-logit]').textContent,
      thumbLoaded: c.querySelector('img').complete && c.querySelector('img').naturalWidth > 0,
      thumbSrc: c.querySelector('img').getAttribute('src'),
    })), selector);
}

/** Waits until the widget `selector` shows cards with loaded thumbnails, or an error. */
function settled(page, selector) {
  return page.waitForFunction((sel) => {
    const root = document.querySelector(sel)?.shadowRoot;
    if (!root) return false;
    if (root.querySelector('[data-testid=widget-error]')) return true;
    const thumbs = [...root.querySelectorAll('[data-testid=widget-thumb]')];
    return thumbs.length > 0 && thumbs.every((i) => i.complete && i.naturalWidth > 0);
  }, selector);
}

function widgetError(page, selector) {
  return page.evaluate((sel) => document.querySelector(sel).shadowRoot.querySelector('[data-testid=widget-error]')?.textContent ?? null, selector);
}

describe('the similar-products widget on another origin', { timeout: 600_000 }, () => {
  let tmp;
  let lookalike;
  let allowed;
  let other;
  let context;
  let page;
  const pageErrors = [];

  before(async () => {
    tmp = setUpRun('widget');
    const imagesDir = path.join(tmp, 'images');
    const images = writeImages(imagesDir);
    fs.writeFileSync(path.join(tmp, 'feed.csv'), feed(images));
    const data = path.join(tmp, 'data');
    const run = (args) => execFileSync(BIN, [...args, '--data-dir', data], { stdio: ['ignore', 'pipe', 'pipe'] });
    run(['index', 'create', 'shop', '--model', 'zero-shot']);
    const report = JSON.parse(run(['index', 'import', 'shop', path.join(tmp, 'feed.csv'), '--images-root', imagesDir, '--json']).toString());
    assert.equal(report.added, 12, JSON.stringify(report));
    // Two shop sites, on two more ports; the server allows only the first.
    let url = null;
    allowed = await shopSite(() => productPage(url, {
      extra: '<h2>Shop the look</h2>\n<lookalike-similar id="by-image" collection="shop" image-url="/photo.png" k="3" filter="in_stock"></lookalike-similar>',
    }));
    other = await shopSite(() => productPage(url));
    lookalike = await startServer(data, ['--read-key', READ_KEY, '--cors-origin', allowed.origin]);
    url = lookalike.url;
    assert.notEqual(new URL(url).origin, allowed.origin);
    ({ context, page } = await launchBrowser(chromium, path.join(tmp, 'profile')));
    await page.setViewportSize({ width: 960, height: 760 });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    if (WEB_DIR) {
      // LOOKALIKE_WEB_DIR=web: the widget from the folder, to try a change without a rebuild.
      await page.route(`${url}widget.js`, (route) => route.fulfill({
        body: fs.readFileSync(path.join(WEB_DIR, 'widget', 'widget.js')), contentType: 'text/javascript',
      }));
    }
    fs.mkdirSync(SHOTS, { recursive: true });
  });

  after(async () => {
    await context?.close().catch(() => {});
    await stopServer(lookalike);
    allowed?.server.close();
    other?.server.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('an allowed shop page shows k similar products with thumbnails and similarities', async () => {
    await page.goto(`${allowed.origin}/`);
    await settled(page, '#by-product');
    assert.equal(await widgetError(page, '#by-product'), null);
    const cards = await readCards(page, '#by-product');
    assert.equal(cards.length, 4, JSON.stringify(cards));
    const products = cards.map((c) => c.product);
    assert.equal(new Set(products).size, 4, 'one card per product');
    assert.ok(!products.includes(QUERY), 'the product itself is left out');
    for (const c of cards) {
      assert.ok(c.thumbLoaded, `${c.product}: thumbnail loaded`);
      assert.match(c.thumbSrc, /^blob:/, 'the thumbnail came through fetch, with the key');
      assert.ok(c.similarity > 0 && c.similarity <= 1, `${c.similarity}`);
      assert.equal(c.similarityText, `${Math.round(c.similarity * 100)}% similar`);
      assert.match(c.logitText, /^logit [+-]\d+\.\d\d$/);
      assert.match(c.meta, /^Acme [a-z]+ · €\d+\.\d\d/);
    }
    const sims = cards.map((c) => c.similarity);
    assert.deepEqual(sims, [...sims].sort((a, b) => b - a), 'best first');
    assert.ok(products.slice(0, 2).every((p) => p.startsWith('disc-')), `the other discs first: ${products}`);
    for (const c of cards) assert.equal(c.meta.includes('out of stock'), c.product.endsWith('-c'), `${c.product}: ${c.meta}`);
    // The page's styles stay outside.
    const style = await page.evaluate(() => {
      const root = document.querySelector('#by-product').shadowRoot;
      const title = getComputedStyle(root.querySelector('.title'));
      const img = getComputedStyle(root.querySelector('img'));
      const card = getComputedStyle(root.querySelector('.card'));
      return { color: title.color, font: title.fontFamily, border: img.borderTopWidth, background: card.backgroundColor };
    });
    assert.notEqual(style.color, 'rgb(200, 0, 0)');
    assert.doesNotMatch(style.font, /Georgia/);
    assert.equal(style.border, '0px');
    assert.equal(style.background, 'rgb(255, 255, 255)');
    // The query by a picture of the page, filtered to products in stock.
    await settled(page, '#by-image');
    assert.equal(await widgetError(page, '#by-image'), null);
    const byImage = await readCards(page, '#by-image');
    assert.equal(byImage.length, 3);
    assert.ok(byImage.every((c) => !c.meta.includes('out of stock')), 'filter="in_stock" applied');
    assert.ok(byImage[0].product.startsWith('disc-'), `a disc first for a photo of a disc: ${byImage[0].product}`);
    await page.screenshot({ path: path.join(SHOTS, 'widget-shop.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });

  test('"why?" opens a popover with the two maps of the explanation', async () => {
    const button = page.locator('#by-product [data-testid=widget-why-button]').first();
    await button.click();
    await page.waitForFunction(() => {
      const root = document.querySelector('#by-product').shadowRoot;
      const maps = [...root.querySelectorAll('[data-testid=widget-why] img')];
      return maps.length === 2 && maps.every((i) => i.complete && i.naturalWidth > 0)
        || root.querySelector('[data-testid=widget-why] [data-testid=widget-error]');
    });
    const why = await page.evaluate(() => {
      const pop = document.querySelector('#by-product').shadowRoot.querySelector('[data-testid=widget-why]');
      return {
        hidden: pop.hidden,
        text: pop.textContent,
        query: pop.querySelector('[data-testid=widget-map-query]')?.getAttribute('src') ?? '',
        hit: pop.querySelector('[data-testid=widget-map-hit]')?.getAttribute('src') ?? '',
      };
    });
    assert.equal(why.hidden, false);
    assert.match(why.query, /^data:image\/png;base64,/, why.text);
    assert.match(why.hit, /^data:image\/png;base64,/);
    assert.notEqual(why.query, why.hit);
    assert.match(why.text, /similarity \d+\.\d%, logit -?\d+\.\d\d/);
    await page.screenshot({ path: path.join(SHOTS, 'widget-why.png'), fullPage: true });
    await page.keyboard.press('Escape');
    assert.equal(await page.evaluate(() => document.querySelector('#by-product').shadowRoot.querySelector('[data-testid=widget-why]').hidden), true);
    assert.deepEqual(pageErrors, []);
  });

  test('a page from an origin the server does not allow gets a clear error, not a broken page', async () => {
    await page.goto(`${other.origin}/`);
    await settled(page, '#by-product');
    const message = await widgetError(page, '#by-product');
    assert.ok(message, 'the widget shows an error');
    assert.match(message, new RegExp(`could not be reached from ${other.origin.replace(/\./g, '\\.')}`));
    assert.ok(message.includes(`--cors-origin ${other.origin}`), message);
    assert.equal(await page.locator('[data-testid=shop-title]').textContent(), 'Disc A');
    assert.equal(await page.evaluate(() => document.querySelector('#by-product').shadowRoot.querySelectorAll('[data-testid=widget-card]').length), 0);
    await page.screenshot({ path: path.join(SHOTS, 'widget-blocked.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });

  test('a wrong key says so inside the widget', async () => {
    await page.goto(`${allowed.origin}/`);
    await settled(page, '#by-product');
    await page.evaluate(() => document.querySelector('#by-product').setAttribute('key', 'not-a-key'));
    await settled(page, '#by-product');
    await page.waitForFunction(() => document.querySelector('#by-product').shadowRoot.querySelector('[data-testid=widget-error]'));
    assert.match(await widgetError(page, '#by-product'), /the API key is not valid/);
  });
});
