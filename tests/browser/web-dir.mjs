// LOOKALIKE_WEB_DIR: the browser gets the page, its style (/style.css, /css/*.css) and its ES
// modules (/app.js, /js/*.js) from a folder instead of the server's compiled-in copies, to try a
// UI change without a rebuild.
import fs from 'node:fs';
import path from 'node:path';

/** The file under the folder and its type for a request path, or null when the server answers. */
function served(pathname) {
  const rel = pathname.slice(1);
  if (rel === '') return ['index.html', 'text/html'];
  if (rel === 'style.css' || /^css\/[a-z-]+\.css$/.test(rel)) return [rel, 'text/css'];
  if (rel === 'app.js' || /^js\/[a-z-]+\.js$/.test(rel)) return [rel, 'text/javascript'];
  return null;
}

/** Makes `page` get the UI's files for `origin` from `dir`. */
export async function serveWebDir(page, origin, dir) {
  await page.route((url) => url.origin === origin && served(url.pathname) !== null, (route) => {
    const [file, contentType] = served(new URL(route.request().url()).pathname);
    return route.fulfill({ body: fs.readFileSync(path.join(dir, file)), contentType });
  });
}
