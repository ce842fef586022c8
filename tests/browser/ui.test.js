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
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serveWebDir } from './web-dir.mjs';
import {
  ROOT,
  BIN,
  CHROMIUM,
  SHOTS,
  WEB_DIR,
  TIMEOUT,
  png,
  CLASSES,
  PER_CLASS,
  writeImages,
  otherDomainImage,
  startServer,
  dropFile,
  pasteFile,
  waitLoaded,
  readResults,
  waitForSearch,
  closeCompare,
  gridKey,
  launchBrowser,
  stopServer,
  setUpRun,
} from './harness.mjs';

// ---------------------------------------------------------------------------------------------

describe('web UI in headless Chromium', { timeout: 600_000 }, () => {
  let tmp;
  let images;
  let server;
  let context;
  let page;
  const pageErrors = [];

  before(async () => {
    tmp = setUpRun('browser');
    images = writeImages(path.join(tmp, 'images'));
    const data = path.join(tmp, 'data');
    const run = (args) => execFileSync(BIN, [...args, '--data-dir', data], { stdio: ['ignore', 'pipe', 'pipe'] });
    run(['index', 'create', 'shop', '--model', 'zero-shot']);
    run(['index', 'add', 'shop', path.join(tmp, 'images'), '-q']);
    server = await startServer(data);
    ({ context, page } = await launchBrowser(chromium, path.join(tmp, 'profile')));
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    if (WEB_DIR) await serveWebDir(page, new URL(server.url).origin, WEB_DIR);
    fs.mkdirSync(SHOTS, { recursive: true });
  });

  after(async () => {
    await context?.close().catch(() => {});
    await stopServer(server);
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
