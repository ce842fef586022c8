// The harness of the browser tests: generated PNG images, a `lookalike serve` on a free port,
// the Chromium launch flags and helpers that drive and read the page. Each *.test.js file in this
// folder starts its own server and browser with these.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.resolve(ROOT, process.env.LOOKALIKE_BIN || 'target/release/lookalike');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = path.resolve(ROOT, process.env.LOOKALIKE_SCREENSHOTS || 'docs/screenshots');
export const WEB_DIR = process.env.LOOKALIKE_WEB_DIR ? path.resolve(ROOT, process.env.LOOKALIKE_WEB_DIR) : null;
export const TIMEOUT = 60_000; // explanations run on the CPU

// ---------------------------------------------------------------------------------------------
// Images: a tiny PNG encoder and four deterministic classes

export const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
export function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
export function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** An RGB PNG of `size`×`height` (square by default) whose pixel (x, y) is `pixel(x, y)` = [r, g, b]. */
export function png(size, pixel, height = size) {
  const raw = Buffer.alloc((size * 3 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    const row = y * (size * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < size; x += 1) {
      const [r, g, b] = pixel(x, y);
      raw.set([r, g, b], row + 1 + x * 3);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export const SIZE = 128;
export const WHITE = [250, 250, 248];
export const CLASSES = {
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
export const PER_CLASS = 5;

/** Writes PER_CLASS images per class under `dir/<class>/`; returns {class: [paths]}. */
export function writeImages(dir) {
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
export function otherDomainImage() {
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

/** Starts `lookalike serve` on a free port with `extra` options (`--read-key`, `--cors-origin`…). */
export function startServer(dataDir, extra = []) {
  const child = spawn(BIN, ['serve', '--data-dir', dataDir, '--bind', '127.0.0.1:0', ...extra], {
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

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Dispatches a synthetic drop of `bytes` (a file named `name`) on the element `selector`. */
export async function dropFile(page, selector, bytes, name, type) {
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
export async function pasteFile(page, bytes, name, type) {
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
export async function waitLoaded(page, selector) {
  await page.waitForFunction((sel) => {
    const img = document.querySelector(sel);
    return img && img.getAttribute('src') && img.complete && img.naturalWidth > 0;
  }, selector, { timeout: TIMEOUT });
}

/** The state of the results grid, read from the page. */
export function readResults(page) {
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

export async function waitForSearch(page, previous) {
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

export async function closeCompare(page) {
  if (await page.isVisible('[data-testid=compare-dialog]')) {
    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid=compare-dialog]', { state: 'hidden' });
  }
}

export function gridKey(page) {
  return page.evaluate(() => [...document.querySelectorAll('[data-testid=result-card]')].map((c) => c.dataset.id).join(',')
    + '|' + document.querySelector('[data-testid=query-name]').textContent);
}

/** Stops a server from `startServer`, waiting up to 5 s for it to exit. */
export async function stopServer(server) {
  if (!server) return;
  server.child.kill('SIGTERM');
  await new Promise((r) => {
    if (server.child.exitCode !== null) r();
    else server.child.once('exit', r);
    setTimeout(r, 5000);
  });
}

/** Headless Chromium with a fresh profile under `profileDir`: {context, page}. */
export async function launchBrowser(chromium, profileDir) {
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1360, height: 900 },
    deviceScaleFactor: 1,
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  return { context, page };
}

/** Checks that the binary and Chromium are there, naming what is missing; returns a new temp dir. */
export function setUpRun(name) {
  if (!fs.existsSync(BIN)) throw new Error(`no lookalike binary at ${BIN} (set LOOKALIKE_BIN, or run make setup)`);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (run scripts/install-chromium.sh)`);
  return fs.mkdtempSync(path.join(os.tmpdir(), `lookalike-${name}-`));
}
