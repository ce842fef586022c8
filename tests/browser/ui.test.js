// End-to-end tests of the web UI in Debian's headless Chromium, driven by playwright-core.
//
// The test builds its own small collection with the CLI (generated PNG images, four labelled
// classes) in a temporary data dir, starts `lookalike serve` on a free port, and drives the page
// like a person would: drop, paste and pick query images, read the results, toggle a heatmap,
// open the compare view, switch the method, read the maps, and hit the error paths. Screenshots
// go to docs/screenshots/ (LOOKALIKE_SCREENSHOTS overrides the folder).
//
//   node --test tests/browser/        (from the repository root; `make browser` does it)
//
// LOOKALIKE_BIN picks the binary (default: target/release/lookalike). No GPU, no internet.
// The server serves the web/ files compiled into it; LOOKALIKE_WEB_DIR=web makes the browser get
// /, /style.css, /app.js and the modules /js/*.js from that folder instead, to try UI changes
// without a rebuild.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';
import { serveWebDir } from './web-dir.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.resolve(ROOT, process.env.LOOKALIKE_BIN || 'target/release/lookalike');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.resolve(ROOT, process.env.LOOKALIKE_SCREENSHOTS || 'docs/screenshots');
const WEB_DIR = process.env.LOOKALIKE_WEB_DIR ? path.resolve(ROOT, process.env.LOOKALIKE_WEB_DIR) : null;
const TIMEOUT = 60_000; // explanations run on the CPU

// ---------------------------------------------------------------------------------------------
// Images: a tiny PNG encoder and four deterministic classes

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** An RGB PNG of `size`×`size` whose pixel (x, y) is `pixel(x, y)` = [r, g, b]. */
function png(size, pixel) {
  const raw = Buffer.alloc((size * 3 + 1) * size);
  for (let y = 0; y < size; y += 1) {
    const row = y * (size * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < size; x += 1) {
      const [r, g, b] = pixel(x, y);
      raw.set([r, g, b], row + 1 + x * 3);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const SIZE = 128;
const WHITE = [250, 250, 248];
const CLASSES = {
  // A red-to-orange disc.
  disc: (r) => {
    const cx = 44 + r() * 40;
    const cy = 44 + r() * 40;
    const rad = 26 + r() * 14;
    const col = [200 + r() * 50, 30 + r() * 90, 30 + r() * 30];
    return (x, y) => ((x - cx) ** 2 + (y - cy) ** 2 < rad ** 2 ? col : WHITE);
  },
  // A blue square.
  square: (r) => {
    const x0 = 14 + r() * 30;
    const y0 = 14 + r() * 30;
    const side = 50 + r() * 26;
    const col = [20 + r() * 40, 60 + r() * 60, 170 + r() * 70];
    return (x, y) => (x >= x0 && x < x0 + side && y >= y0 && y < y0 + side ? col : WHITE);
  },
  // Green horizontal stripes.
  stripes: (r) => {
    const period = 10 + Math.floor(r() * 8);
    const phase = Math.floor(r() * period);
    const col = [20 + r() * 40, 140 + r() * 80, 40 + r() * 50];
    return (x, y) => (((y + phase) % period) < period / 2 ? col : WHITE);
  },
  // A black and yellow checkerboard.
  checker: (r) => {
    const cell = 12 + Math.floor(r() * 12);
    const off = Math.floor(r() * cell);
    const a = [20, 20, 24];
    const b = [230 + r() * 25, 190 + r() * 40, 20 + r() * 30];
    return (x, y) => ((Math.floor((x + off) / cell) + Math.floor((y + off) / cell)) % 2 ? a : b);
  },
};
const PER_CLASS = 5;

/** Writes PER_CLASS images per class under `dir/<class>/`; returns {class: [paths]}. */
function writeImages(dir) {
  const out = {};
  let seed = 1;
  for (const [name, make] of Object.entries(CLASSES)) {
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    out[name] = [];
    for (let i = 0; i < PER_CLASS; i += 1) {
      const file = path.join(dir, name, `${name}-${i}.png`);
      fs.writeFileSync(file, png(SIZE, make(rng(seed * 7919))));
      seed += 1;
      out[name].push(file);
    }
  }
  return out;
}

/**
 * A picture from another domain than the catalogue's flat shapes on white: a dense, colourful,
 * photo-like texture (smooth colour waves with grain) that fills the whole frame.
 */
function otherDomainImage() {
  const r = rng(424242);
  const waves = Array.from({ length: 6 }, () => [r() * 0.2, r() * 0.2, r() * 6.28, r() * 3]);
  return png(SIZE, (x, y) => {
    const v = waves.map(([fx, fy, ph]) => Math.sin(fx * x + fy * y + ph));
    const grain = () => (r() - 0.5) * 90;
    const c = (a, b) => Math.max(0, Math.min(255, 128 + 60 * a + 50 * b + grain()));
    return [c(v[0], v[3]), c(v[1], v[4]), c(v[2], v[5])];
  });
}

// ---------------------------------------------------------------------------------------------
// The server and the browser

function startServer(dataDir) {
  const child = spawn(BIN, ['serve', '--data-dir', dataDir, '--bind', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`lookalike serve printed no address in 60 s; stdout: ${stdout}; stderr: ${stderr}`));
    }, 60_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/https?:\/\/[^\s]+/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[0].endsWith('/') ? m[0] : `${m[0]}/`, stderr: () => stderr });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`lookalike serve exited with ${code}: ${stderr}`));
    });
  });
}

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Dispatches a synthetic drop of `bytes` (a file named `name`) on the element `selector`. */
async function dropFile(page, selector, bytes, name, type) {
  await page.evaluate(({ selector, b64, name, type }) => {
    const bin = atob(b64);
    const arr = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i += 1) arr[i] = bin.charCodeAt(i);
    const dt = new DataTransfer();
    dt.items.add(new File([arr], name, { type }));
    const target = document.querySelector(selector);
    target.dispatchEvent(new DragEvent('dragenter', { bubbles: true, cancelable: true, dataTransfer: dt }));
    target.dispatchEvent(new DragEvent('dragover', { bubbles: true, cancelable: true, dataTransfer: dt }));
    target.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: dt }));
  }, { selector, b64: Buffer.from(bytes).toString('base64'), name, type });
}

/** Dispatches a paste of an image file, as Ctrl+V of a copied image does. */
async function pasteFile(page, bytes, name, type) {
  await page.evaluate(({ b64, name, type }) => {
    const bin = atob(b64);
    const arr = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i += 1) arr[i] = bin.charCodeAt(i);
    const dt = new DataTransfer();
    dt.items.add(new File([arr], name, { type }));
    document.dispatchEvent(new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: dt }));
  }, { b64: Buffer.from(bytes).toString('base64'), name, type });
}

/** Waits until `selector` is an <img> that has loaded a picture (naturalWidth > 0). */
async function waitLoaded(page, selector) {
  await page.waitForFunction((sel) => {
    const img = document.querySelector(sel);
    return img && img.getAttribute('src') && img.complete && img.naturalWidth > 0;
  }, selector, { timeout: TIMEOUT });
}

/** The state of the results grid, read from the page. */
function readResults(page) {
  return page.$$eval('[data-testid=result-card]', (cards) => cards.map((c) => ({
    id: Number(c.dataset.id),
    rank: c.querySelector('[data-testid=result-rank]').textContent.trim(),
    score: c.querySelector('[data-testid=result-score]').textContent.trim(),
    decision: c.querySelector('[data-testid=result-decision]').textContent.trim(),
    label: c.querySelector('[data-testid=result-label]').textContent.trim(),
    thumb: c.querySelector('[data-testid=result-thumb]').getAttribute('src'),
    logitText: c.querySelector('[data-testid=result-logit]')?.textContent.trim() ?? null,
    logit: Number(c.querySelector('[data-testid=result-logit]')?.dataset.logit),
  })));
}

async function waitForSearch(page, previous) {
  // A search is done when the button is enabled again and the grid (or the error) changed.
  await page.waitForFunction((prev) => {
    const button = document.querySelector('[data-testid=search-button]');
    if (button.getAttribute('aria-busy') === 'true') return false;
    const err = document.querySelector('[data-testid=error]');
    const cards = [...document.querySelectorAll('[data-testid=result-card]')];
    const key = cards.map((c) => c.dataset.id).join(',') + '|' + document.querySelector('[data-testid=query-name]').textContent;
    return (!err.hidden || cards.length > 0) && key !== prev;
  }, previous ?? null, { timeout: TIMEOUT });
}

async function closeCompare(page) {
  if (await page.isVisible('[data-testid=compare-dialog]')) {
    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid=compare-dialog]', { state: 'hidden' });
  }
}

function gridKey(page) {
  return page.evaluate(() => [...document.querySelectorAll('[data-testid=result-card]')].map((c) => c.dataset.id).join(',')
    + '|' + document.querySelector('[data-testid=query-name]').textContent);
}

// ---------------------------------------------------------------------------------------------

describe('web UI in headless Chromium', { timeout: 600_000 }, () => {
  let tmp;
  let images;
  let server;
  let context;
  let page;
  const pageErrors = [];

  before(async () => {
    assert.ok(fs.existsSync(BIN), `no lookalike binary at ${BIN} (set LOOKALIKE_BIN, or run make setup)`);
    assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (run scripts/install-chromium.sh)`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-browser-'));
    images = writeImages(path.join(tmp, 'images'));
    const data = path.join(tmp, 'data');
    const run = (args) => execFileSync(BIN, [...args, '--data-dir', data], { stdio: ['ignore', 'pipe', 'pipe'] });
    run(['index', 'create', 'shop', '--model', 'zero-shot']);
    run(['index', 'add', 'shop', path.join(tmp, 'images'), '-q']);
    server = await startServer(data);
    context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1360, height: 900 },
      deviceScaleFactor: 1,
    });
    page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    if (WEB_DIR) await serveWebDir(page, new URL(server.url).origin, WEB_DIR);
    fs.mkdirSync(SHOTS, { recursive: true });
  });

  after(async () => {
    await context?.close().catch(() => {});
    if (server) {
      server.child.kill('SIGTERM');
      await new Promise((r) => {
        if (server.child.exitCode !== null) r();
        else server.child.once('exit', r);
        setTimeout(r, 5000);
      });
    }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the server serves every module of web/, as it is in the folder', { skip: WEB_DIR ? 'LOOKALIKE_WEB_DIR serves them from the folder' : false }, async () => {
    const modules = ['app.js', ...fs.readdirSync(path.join(ROOT, 'web', 'js')).filter((f) => f.endsWith('.js')).map((f) => `js/${f}`)];
    for (const m of modules) {
      const res = await fetch(new URL(m, server.url));
      assert.equal(res.status, 200, `GET /${m}`);
      assert.match(res.headers.get('content-type'), /javascript/, `GET /${m}`);
      assert.equal(await res.text(), fs.readFileSync(path.join(ROOT, 'web', m), 'utf8'), `/${m} is the file in web/ (rebuild the binary)`);
    }
  });

  test('the page loads with the pickers filled from the API', async () => {
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready=true]');
    const collections = await page.$$eval('[data-testid=collection-select] option', (o) => o.map((x) => x.value));
    assert.deepEqual(collections, ['shop']);
    const methods = await page.$$eval('[data-testid=method-select] option', (o) => o.map((x) => x.value));
    for (const m of ['gradcam', 'gradcam++']) assert.ok(methods.includes(m), `methods: ${methods}`);
    // Every explainer the server offers is offered, each with its cost; so are the targets.
    const offered = await (await fetch(new URL('api/explainers', server.url))).json();
    assert.deepEqual(methods, offered.methods.map((m) => m.name));
    for (const m of ['occlusion', 'integrated-gradients', 'shapley', 'rise']) assert.ok(methods.includes(m), `methods: ${methods}`);
    const titles = await page.$$eval('[data-testid=method-select] option', (o) => o.map((x) => x.title));
    offered.methods.forEach((m, i) => assert.ok(titles[i].includes(m.cost.summary), `${m.name}: ${titles[i]}`));
    assert.match(await page.textContent('[data-testid=method-cost]'), /^Cost: ./);
    const targets = await page.$$eval('[data-testid=target-select] option', (o) => o.map((x) => x.value));
    assert.deepEqual(targets, offered.targets);
    assert.equal(await page.inputValue('[data-testid=target-select]'), offered.default_target);
    // The masks field belongs to RISE, and says the server's limit.
    assert.equal(await page.isVisible('[data-testid=masks-input]'), false);
    await page.selectOption('[data-testid=method-select]', 'rise');
    assert.equal(await page.isVisible('[data-testid=masks-input]'), true);
    assert.equal(await page.getAttribute('[data-testid=masks-input]', 'max'), String(offered.max_masks));
    await page.selectOption('[data-testid=method-select]', offered.default);
    assert.equal(await page.isVisible('[data-testid=masks-input]'), false);
    const count = Object.keys(CLASSES).length * PER_CLASS;
    assert.match(await page.textContent('[data-testid=collection-info]'), new RegExp(`${count} images`));
    assert.match(await page.textContent('[data-testid=health]'), /connected/);
    assert.equal(await page.isDisabled('[data-testid=search-button]'), true, 'no query yet');
    assert.equal(await page.isVisible('[data-testid=empty-state]'), true);
  });

  test('dropping an image shows ranked results with scores and decisions', async () => {
    const query = fs.readFileSync(images.disc[0]);
    await dropFile(page, '[data-testid=drop-zone]', query, 'disc-0.png', 'image/png');
    await waitForSearch(page);
    await waitLoaded(page, '[data-testid=query-image]');
    const hits = await readResults(page);
    assert.equal(hits.length, 12, 'k defaults to 12');
    hits.forEach((h, i) => {
      assert.equal(h.rank, `#${i + 1}`);
      assert.match(h.score, /^-?\d\.\d{3}$/);
      assert.ok(['Same', 'Different'].includes(h.decision), h.decision);
      assert.ok(Object.keys(CLASSES).includes(h.label), h.label);
    });
    const scores = hits.map((h) => Number(h.score));
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a), 'sorted by similarity');
    // The query is in the collection: it comes first, at similarity ~1, called the same.
    assert.equal(hits[0].label, 'disc');
    assert.ok(scores[0] > 0.99, `top similarity ${scores[0]}`);
    assert.equal(hits[0].decision, 'Same');
    // Its classmates rank above the other classes' images.
    assert.ok(hits.slice(0, 3).every((h) => h.label === 'disc'), hits.map((h) => h.label).join(','));
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=result-thumb]')]
      .every((i) => i.complete && i.naturalWidth > 0));
    assert.match(await page.textContent('[data-testid=status]'), /12 results/);
    assert.equal(await page.isVisible('[data-testid=empty-state]'), false);
    // Past the classmates and the squares, the stripes are called different.
    assert.equal(hits[hits.length - 1].decision, 'Different', hits.map((h) => `${h.label} ${h.score} ${h.decision}`).join('; '));
    await page.screenshot({ path: path.join(SHOTS, 'results.png'), fullPage: true });
  });

  test('a metadata filter and a minimum similarity narrow the results', async () => {
    const before = await gridKey(page);
    await page.fill('[data-testid=filter-input]', 'label=square');
    await page.click('[data-testid=search-button]');
    await waitForSearch(page, before);
    let hits = await readResults(page);
    assert.equal(hits.length, PER_CLASS);
    assert.ok(hits.every((h) => h.label === 'square'), hits.map((h) => h.label).join(','));

    const filtered = await gridKey(page);
    await page.fill('[data-testid=filter-input]', '');
    await page.fill('[data-testid=min-sim-input]', '0.99');
    await page.click('[data-testid=search-button]');
    await waitForSearch(page, filtered);
    hits = await readResults(page);
    assert.ok(hits.length >= 1 && hits.every((h) => Number(h.score) >= 0.99), JSON.stringify(hits));

    const narrow = await gridKey(page);
    await page.fill('[data-testid=min-sim-input]', '');
    await page.click('[data-testid=search-button]');
    await waitForSearch(page, narrow);
    assert.equal((await readResults(page)).length, 12);
  });

  test('the heatmap toggle swaps a thumbnail for the factual map and back', async () => {
    const card = '[data-testid=result-card]:nth-child(2)';
    const thumb = `${card} [data-testid=result-thumb]`;
    const original = await page.getAttribute(thumb, 'src');
    // While it computes, the card says so and the toggle cannot be pressed again.
    await page.evaluate((card) => {
      window.seen = [];
      const root = document.querySelector(card);
      const busy = root.querySelector('.thumb-busy');
      new MutationObserver(() => {
        if (!busy.hidden) window.seen.push(`${busy.textContent.trim()}|${root.querySelector('[data-testid=heatmap-toggle]').disabled}`);
      }).observe(root, { subtree: true, childList: true, characterData: true, attributes: true });
    }, card);
    await page.click(`${card} [data-testid=heatmap-toggle]`);
    await page.waitForFunction((sel) => document.querySelector(sel).getAttribute('src').startsWith('data:image/png'), thumb);
    await waitLoaded(page, thumb);
    const seen = await page.evaluate(() => window.seen);
    assert.ok(seen.some((s) => s === 'explaining with gradcam…|true'), `progress seen: ${seen}`);
    assert.equal(await page.getAttribute(`${card} [data-testid=heatmap-toggle]`, 'aria-pressed'), 'true');
    assert.equal(await page.isEnabled(`${card} [data-testid=heatmap-toggle]`), true);
    await page.screenshot({ path: path.join(SHOTS, 'heatmap.png') });
    await page.click(`${card} [data-testid=heatmap-toggle]`);
    assert.equal(await page.getAttribute(thumb, 'src'), original);
    assert.equal(await page.getAttribute(`${card} [data-testid=heatmap-toggle]`, 'aria-pressed'), 'false');
  });

  test('the compare view shows four maps and the correspondence, and switching the method redraws them', async () => {
    const maps = ['map-query-factual', 'map-query-counterfactual', 'map-hit-factual', 'map-hit-counterfactual']
      .map((id) => `[data-testid=${id}]`);
    await page.click('[data-testid=result-card]:nth-child(3) [data-testid=compare-button]');
    await page.waitForSelector('[data-testid=compare-dialog][open]');
    for (const m of [...maps, '[data-testid=crop-query]', '[data-testid=crop-hit]']) await waitLoaded(page, m);
    await page.waitForSelector('[data-testid=compare-progress]', { state: 'hidden' });
    const lines = await page.$$eval('[data-testid=correspondence] [data-testid=correspondence-line]', (l) => l.length);
    assert.ok(lines >= 1 && lines <= 10, `${lines} correspondence lines`);
    const inside = await page.$$eval('[data-testid=correspondence-line]', (ls) => ls.every((l) => {
      const [x1, y1, x2, y2] = ['x1', 'y1', 'x2', 'y2'].map((a) => Number(l.getAttribute(a)));
      return x1 >= 0 && x1 <= 224 && x2 >= 256 && x2 <= 480 && y1 >= 0 && y1 <= 224 && y2 >= 0 && y2 <= 224;
    }));
    assert.ok(inside, 'lines run from the query crop to the match crop');
    assert.match(await page.textContent('[data-testid=compare-decision]'), /^(Same|Different)$/);
    assert.match(await page.textContent('[data-testid=compare-similarity]'), /^-?\d\.\d{3}$/);
    assert.match(await page.textContent('[data-testid=compare-explains]'), /factual maps \(gradcam/);
    assert.equal(await page.inputValue('[data-testid=compare-method]'), 'gradcam');
    await page.screenshot({ path: path.join(SHOTS, 'compare.png') });

    const before = await Promise.all(maps.map((m) => page.getAttribute(m, 'src')));
    // Record what the progress line says, and whether the pickers are locked meanwhile.
    await page.evaluate(() => {
      window.seen = [];
      const progress = document.querySelector('[data-testid=compare-progress]');
      new MutationObserver(() => {
        if (!progress.hidden) {
          window.seen.push(`${progress.textContent.trim()}|${document.querySelector('[data-testid=compare-method]').disabled}`);
        }
      }).observe(progress, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await page.selectOption('[data-testid=compare-method]', 'gradcam++');
    // Progress shows, and the pickers are disabled, until the new maps arrive.
    await page.waitForFunction(([maps, before]) => {
      const progress = document.querySelector('[data-testid=compare-progress]');
      return progress.hidden && maps.every((m, i) => {
        const img = document.querySelector(m);
        return img.getAttribute('src') && img.getAttribute('src') !== before[i] && img.complete && img.naturalWidth > 0;
      });
    }, [maps, before], { timeout: TIMEOUT });
    const seen = await page.evaluate(() => window.seen);
    assert.ok(seen.some((s) => s.startsWith('explaining with gradcam++') && s.endsWith('|true')), `progress seen: ${seen}`);
    const after = await Promise.all(maps.map((m) => page.getAttribute(m, 'src')));
    after.forEach((src, i) => assert.notEqual(src, before[i], `${maps[i]} changed with the method`));
    assert.match(await page.textContent('[data-testid=compare-explains]'), /factual maps \(gradcam\+\+/);
    assert.ok(await page.$$eval('[data-testid=correspondence-line]', (l) => l.length) >= 1);
    assert.equal(await page.isEnabled('[data-testid=compare-method]'), true);

    // An earlier layer: a finer grid, and the lines still land on cell centres inside the crops.
    const layers = await page.$$eval('[data-testid=compare-layer] option', (o) => o.map((x) => x.value));
    assert.equal(layers[0], 'last');
    assert.ok(layers.includes('12'), `layers: ${layers}`);
    await page.selectOption('[data-testid=compare-layer]', '12');
    await page.waitForFunction(() => /layer 12[,)]/.test(document.querySelector('[data-testid=compare-explains]').textContent)
      && document.querySelector('[data-testid=compare-progress]').hidden);
    await waitLoaded(page, maps[0]);
    assert.match(await page.textContent('[data-testid=corr-caption]'), /of a 14×14 grid/);

    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid=compare-dialog]', { state: 'hidden' });

    // A pair called different: the factual maps explain the distance.
    await page.click('[data-testid=result-card]:last-child [data-testid=compare-button]');
    await page.waitForSelector('[data-testid=compare-dialog][open]');
    await page.waitForSelector('[data-testid=compare-progress]', { state: 'hidden' });
    for (const m of maps) await waitLoaded(page, m);
    assert.equal(await page.textContent('[data-testid=compare-decision]'), 'Different');
    assert.match(await page.textContent('[data-testid=compare-explains]'), /^Called different: .*set the two images apart/);
    await page.screenshot({ path: path.join(SHOTS, 'compare-different.png') });
    await closeCompare(page);
  });

  test('more like this searches by a result id', async () => {
    await closeCompare(page); // in case the test before failed with it open
    const before = await gridKey(page);
    const target = await readResults(page).then((h) => h.find((x) => x.label === 'checker') || h[h.length - 1]);
    await page.click(`[data-testid=result-card][data-id="${target.id}"] [data-testid=more-like-this]`);
    await waitForSearch(page, before);
    const hits = await readResults(page);
    assert.match(await page.textContent('[data-testid=query-name]'), new RegExp(`#${target.id}`));
    assert.ok(hits.every((h) => h.id !== target.id), 'the image itself is left out');
    assert.equal(hits[0].label, target.label, 'a classmate comes first');
    // Explanations work for an id query too (JSON request).
    await page.click('[data-testid=result-card]:nth-child(2) [data-testid=compare-button]');
    await waitLoaded(page, '[data-testid=map-hit-factual]');
    await closeCompare(page);
  });

  test('pasting an image and picking a file both search', async () => {
    let before = await gridKey(page);
    await pasteFile(page, fs.readFileSync(images.stripes[1]), 'image.png', 'image/png');
    await waitForSearch(page, before);
    let hits = await readResults(page);
    assert.equal(hits[0].label, 'stripes');
    assert.match(await page.textContent('[data-testid=query-name]'), /pasted/);

    before = await gridKey(page);
    await page.setInputFiles('[data-testid=file-input]', images.checker[2]);
    await waitForSearch(page, before);
    hits = await readResults(page);
    assert.equal(hits[0].label, 'checker');
    assert.match(await page.textContent('[data-testid=query-name]'), /checker-2\.png/);
  });

  test('RISE takes a number of masks within the server\'s limit, and one over it is refused', async () => {
    await closeCompare(page);
    const { max_masks: max } = await (await fetch(new URL('api/explainers', server.url))).json();
    const card = '[data-testid=result-card]:nth-child(2)';
    await page.selectOption('[data-testid=method-select]', 'rise');
    await page.fill('[data-testid=masks-input]', String(max + 1));
    await page.click(`${card} [data-testid=heatmap-toggle]`);
    await page.waitForSelector('[data-testid=error]', { state: 'visible' });
    assert.match(await page.textContent('[data-testid=error-message]'), new RegExp(`At most ${max} RISE masks`));
    assert.equal(await page.getAttribute(`${card} [data-testid=heatmap-toggle]`, 'aria-pressed'), 'false');

    await page.fill('[data-testid=masks-input]', '40');
    await page.click(`${card} [data-testid=heatmap-toggle]`);
    await page.waitForFunction((sel) => document.querySelector(sel).dataset.mapFlat !== undefined, card, { timeout: 2 * TIMEOUT });
    assert.match(await page.textContent(`${card} [data-testid=map-note]`), /^rise · why (same|different)$/);
    assert.equal(await page.getAttribute(card, 'data-map-flat'), 'false');
    await page.click(`${card} [data-testid=heatmap-toggle]`);
    await page.fill('[data-testid=masks-input]', '');
    await page.selectOption('[data-testid=method-select]', 'gradcam');
    const errorShown = await page.isVisible('[data-testid=error]');
    if (errorShown) await page.click('#error-close');
    assert.equal(await page.isVisible('[data-testid=error]'), false);
  });

  test('a query from another domain says so above the results, with numbers that differ and maps for every hit', async () => {
    await closeCompare(page);
    const before = await gridKey(page);
    await dropFile(page, '[data-testid=drop-zone]', otherDomainImage(), 'other-domain.png', 'image/png');
    await waitForSearch(page, before);
    const notice = '[data-testid=out-of-catalogue]';
    assert.equal(await page.isVisible(notice), true, 'the out-of-catalogue notice shows');
    const message = await page.textContent('[data-testid=out-of-catalogue-message]');
    assert.match(message, /^Nothing like this in the catalogue: the best match is farther than (all \()?\d+(\.\d)?%\)? of the catalogue's images are from their own nearest neighbour\.$/);
    const closer = Number(message.match(/([\d.]+)%/)[1]);
    assert.ok(closer >= 99, `farther than ${closer}% of the catalogue's own neighbours`);
    assert.match(await page.textContent('[data-testid=out-of-catalogue-detail]'), /^Best match: logit −?\d/);
    // The notice is above the results.
    const [noticeBox, gridBox] = await Promise.all([page.locator(notice).boundingBox(), page.locator('[data-testid=results-grid]').boundingBox()]);
    assert.ok(noticeBox.y + noticeBox.height <= gridBox.y, 'the notice is above the results');

    const hits = await readResults(page);
    assert.equal(hits.length, 12);
    // Ranked by the logit, and no two different logits read the same.
    const logits = hits.map((x) => x.logit);
    assert.ok(logits.every(Number.isFinite), `logits: ${logits}`);
    assert.deepEqual(logits, [...logits].sort((a, b) => b - a), 'ranked by the logit');
    const shown = hits.map((x) => `${x.score} · ${x.logitText}`);
    assert.equal(new Set(shown).size, new Set(logits).size, `shown: ${shown.join('; ')}`);
    assert.ok(new Set(shown).size > 1, `all hits read the same: ${shown[0]}`);
    hits.forEach((x) => assert.match(x.logitText, /^logit −?\d+\.\d+$/));

    // Every hit gets a map that carries something (the logit target never saturates).
    const cards = await page.$$('[data-testid=result-card]');
    for (const card of cards) await (await card.$('[data-testid=heatmap-toggle]')).click();
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=result-card]')]
      .every((c) => c.dataset.mapFlat !== undefined && c.querySelector('[data-testid=result-thumb]').naturalWidth > 0), null, { timeout: 4 * TIMEOUT });
    const flat = await page.$$eval('[data-testid=result-card]', (cs) => cs.map((c) => `${c.dataset.id}:${c.dataset.mapFlat}:${c.querySelector('[data-testid=map-note]').textContent}`));
    assert.ok(flat.every((f) => f.split(':')[1] === 'false'), `maps: ${flat.join('; ')}`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(SHOTS, 'out-of-catalogue.png'), fullPage: true });

    // The compare view of the best match: four maps, none flat.
    await page.click('[data-testid=result-card]:nth-child(1) [data-testid=compare-button]');
    await page.waitForSelector('[data-testid=compare-dialog][open]');
    await page.waitForSelector('[data-testid=compare-progress]', { state: 'hidden' });
    const maps = ['query-factual', 'query-counterfactual', 'hit-factual', 'hit-counterfactual'];
    for (const m of maps) await waitLoaded(page, `[data-testid=map-${m}]`);
    const factual = await page.getAttribute('[data-testid=map-hit-factual]', 'data-flat');
    assert.equal(factual, 'false', await page.textContent('#cap-hit-factual'));
    assert.match(await page.textContent('[data-testid=compare-logit]'), /^logit −?\d+\.\d+$/);
    assert.match(await page.textContent('[data-testid=compare-explains]'), /on the head's logit/);
    await page.screenshot({ path: path.join(SHOTS, 'out-of-catalogue-compare.png') });
    await closeCompare(page);
  });

  test('a catalogue image finds itself first, with the highest similarity and a map of its own', async () => {
    await closeCompare(page);
    const before = await gridKey(page);
    await page.setInputFiles('[data-testid=file-input]', images.square[3]);
    await waitForSearch(page, before);
    assert.equal(await page.isVisible('[data-testid=out-of-catalogue]'), false, 'a catalogue image is not out of the catalogue');
    const hits = await readResults(page);
    assert.equal(hits[0].label, 'square');
    const scores = hits.map((x) => Number(x.score));
    assert.equal(Math.max(...scores), scores[0]);
    assert.ok(hits.slice(1).every((x) => x.logit < hits[0].logit), 'its own logit is the highest');
    assert.equal(hits[0].decision, 'Same');
    await page.click('[data-testid=result-card]:nth-child(1) [data-testid=compare-button]');
    await page.waitForSelector('[data-testid=compare-dialog][open]');
    await page.waitForSelector('[data-testid=compare-progress]', { state: 'hidden' });
    for (const m of ['query-factual', 'hit-factual']) {
      await waitLoaded(page, `[data-testid=map-${m}]`);
      const flat = await page.getAttribute(`[data-testid=map-${m}]`, 'data-flat');
      assert.equal(flat, 'false', `${m}: ${await page.textContent(`#cap-${m}`)}`);
    }
    // A map made without a gradient (an image against itself has none) says which method made it.
    const fallback = await page.getAttribute('[data-testid=map-hit-factual]', 'data-fallback');
    if (fallback) assert.match(await page.textContent('#cap-hit-factual'), new RegExp(`^${fallback} \\(no gradient\\)`));
    // No caption reads a bare "flat: no signal": a flat map says why.
    const captions = await page.$$eval('.map figcaption', (cs) => cs.map((c) => c.textContent));
    assert.ok(captions.every((c) => c !== 'flat: no signal'), captions.join('; '));
    await page.screenshot({ path: path.join(SHOTS, 'self-match-compare.png') });
    await closeCompare(page);
  });

  test('a text file gets the server\'s 415 message, and a network failure says so', async () => {
    const text = Buffer.from('this is not an image\n');
    // What the server itself says about this upload.
    const form = new FormData();
    form.append('image', new Blob([text], { type: 'text/plain' }), 'notes.txt');
    const res = await fetch(new URL('api/collections/shop/search', server.url), { method: 'POST', body: form });
    assert.equal(res.status, 415);
    const { error } = await res.json();
    assert.ok(error.message);

    await dropFile(page, '[data-testid=drop-zone]', text, 'notes.txt', 'text/plain');
    await page.waitForSelector('[data-testid=error]', { state: 'visible' });
    const shown = await page.textContent('[data-testid=error-message]');
    assert.ok(shown.includes(error.message), `shown: ${shown}; server: ${error.message}`);
    assert.match(await page.textContent('[data-testid=error-detail]'), /415/);
    assert.equal(await page.isEnabled('[data-testid=search-button]'), true, 'one can try again');
    await page.screenshot({ path: path.join(SHOTS, 'error.png') });

    await page.route('**/api/collections/*/search', (route) => route.abort('connectionrefused'));
    await dropFile(page, '[data-testid=drop-zone]', fs.readFileSync(images.disc[1]), 'disc-1.png', 'image/png');
    await page.waitForFunction(() => /network/i.test(document.querySelector('[data-testid=error-message]').textContent));
    assert.match(await page.textContent('[data-testid=error-message]'), /could not be reached/);
    await page.unroute('**/api/collections/*/search');
  });

  test('the page raised no script errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
