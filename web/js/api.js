// The JSON API of `lookalike serve`: one call that returns the body or throws the server's error.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API; resolves to the JSON body, or throws an ApiError with the server's message. */
export async function api(path, { method = 'GET', json, form } = {}) {
  const init = { method, headers: { Accept: 'application/json' } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['Content-Type'] = 'application/json';
  } else if (form) {
    init.body = form;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network',
      'Network error: the Lookalike server could not be reached. Is `lookalike serve` still running?');
  }
  const text = await res.text().catch(() => '');
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = body && body.error;
    const message = (err && err.message) || text.trim() || res.statusText || 'Request failed';
    throw new ApiError(res.status, (err && err.code) || 'http_error', message);
  }
  if (body === null) throw new ApiError(res.status, 'bad_response', 'The server answered with something that is not JSON.');
  return body;
}

/** `/api/collections/NAME`, escaped. */
export const collectionPath = (name) => `/api/collections/${encodeURIComponent(name)}`;
