// Uses a running demo as a new user would: open the printed address in Chromium, search with
// one of the catalogue's own images (dropped on the page) and with a photo from outside it
// (picked with the file picker), open a compare view for each, and save screenshots.
//
//   node tests/browser/try-demo.mjs http://127.0.0.1:8080 CATALOGUE_IMAGE PHOTO OUT_DIR
//
// Not a test (`make test` runs *.test.js only): it needs the demo running (`make demo`).
// LOOKALIKE_WEB_DIR=web serves the page and its modules from that folder instead of the binary.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serveWebDir } from './web-dir.mjs';

const [url, catalogueImage, photo, out] = process.argv.slice(2);
if (!url || !catalogueImage || !photo || !out) {
  console.error('usage: node tests/browser/try-demo.mjs URL CATALOGUE_IMAGE PHOTO OUT_DIR');
  process.exit(2);
}
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
fs.mkdirSync(out, { recursive: true });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-try-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ARGS,
  viewport: { width: 1360, height: 900 },
});
const page = context.pages()[0] || await context.newPage();
page.setDefaultTimeout(120000);
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
if (process.env.LOOKALIKE_WEB_DIR) await serveWebDir(page, new URL(url).origin, path.resolve(process.env.LOOKALIKE_WEB_DIR));

async function results() {
  return page.$$eval('[data-testid=result-card]', (cards) => cards.map((c) => [
    c.querySelector('[data-testid=result-rank]').textContent.trim(),
    c.querySelector('[data-testid=result-score]').textContent.trim(),
    c.querySelector('[data-testid=result-logit]')?.textContent.trim() ?? '',
    c.querySelector('[data-testid=result-decision]').textContent.trim(),
    c.querySelector('[data-testid=result-label]').textContent.trim(),
  ].join(' ')));
}

async function search(name, setQuery, compareRank) {
  const before = await page.evaluate(() => document.querySelector('[data-testid=query-name]')?.textContent);
  await setQuery();
  await page.waitForFunction((prev) => {
    const q = document.querySelector('[data-testid=query-name]')?.textContent;
    const cards = document.querySelectorAll('[data-testid=result-card]');
    const busy = document.querySelector('[data-testid=search-button]')?.disabled;
    return q && q !== prev && cards.length > 0 && !busy;
  }, before);
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=result-thumb]')]
    .every((i) => i.complete && i.naturalWidth > 0));
  console.log(`${name}:\n  ${(await results()).slice(0, 12).join('\n  ')}`);
  if (await page.isVisible('[data-testid=out-of-catalogue]')) {
    console.log(`  notice: ${(await page.textContent('[data-testid=out-of-catalogue]')).trim().replace(/\s+/g, ' ')}`);
  }
  await page.screenshot({ path: path.join(out, `demo-${name}.png`) });
  await page.click(`[data-testid=result-card]:nth-child(${compareRank}) [data-testid=compare-button]`);
  await page.waitForFunction(() => ['query-factual', 'query-counterfactual', 'hit-factual', 'hit-counterfactual']
    .every((m) => { const i = document.querySelector(`[data-testid=map-${m}]`); return i && i.complete && i.naturalWidth > 0; })
    && document.querySelector('[data-testid=compare-progress]').hidden);
  const captions = await page.$$eval('.map figcaption', (cs) => cs.map((c) => c.textContent.trim()).filter((t) => !t.includes('input')));
  console.log(`  compare #${compareRank}: ${(await page.textContent('[data-testid=compare-logit]')).trim()}; maps: ${captions.join(' | ')}`);
  await page.screenshot({ path: path.join(out, `demo-${name}-compare.png`) });
  await page.click('[data-testid=compare-close]');
  await page.waitForSelector('[data-testid=compare-dialog]', { state: 'hidden' });
}

await page.goto(url);
await page.waitForSelector('body[data-ready=true]');
console.log('collection:', (await page.textContent('[data-testid=collection-info]')).trim());
await search('catalogue-image', async () => {
  const bytes = fs.readFileSync(catalogueImage).toString('base64');
  await page.evaluate(({ b64, name }) => {
    const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([raw], name, { type: 'image/png' }));
    const zone = document.querySelector('[data-testid=drop-zone]');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
    }
  }, { b64: bytes, name: path.basename(catalogueImage) });
}, 1); // the first hit is the image itself: its own map (gradient-free: it has no gradient)

await search('uploaded-photo', () => page.setInputFiles('[data-testid=file-input]', photo), 1);
await context.close();
fs.rmSync(profile, { recursive: true, force: true });
if (errors.length) {
  console.error('page errors:', errors);
  process.exit(1);
}
