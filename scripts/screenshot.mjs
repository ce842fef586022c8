// Full-page screenshot of a local HTML file in Debian's headless Chromium (the browser the UI
// tests use; `make browser` installs it and playwright-core).
//
//   node scripts/screenshot.mjs REPORT/index.html OUT.png [WIDTH]
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(resolve('tests/browser/package.json'));
const { chromium } = require('playwright-core');
const [page_, out, width = '1200'] = process.argv.slice(2);
if (!page_ || !out) {
  console.error('usage: node scripts/screenshot.mjs PAGE.html OUT.png [WIDTH]');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: Number(width), height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => errors.push(`failed to load ${r.url()}`));
  await page.goto(pathToFileURL(resolve(page_)).href, { waitUntil: 'load' });
  const broken = await page.evaluate(() =>
    [...document.images].filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.src));
  errors.push(...broken.map((s) => `image did not load: ${s}`));
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}${errors.length ? `; problems:\n  ${errors.join('\n  ')}` : ' (every image loaded, no page error)'}`);
  if (errors.length) process.exitCode = 1;
} finally {
  await browser.close();
}
