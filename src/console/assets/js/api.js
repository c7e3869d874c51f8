// Calls to Inlet's public HTTP API, with the platform's headers, and its errors turned
// into messages a person can act on.

import * as session from './session.js';

export const FLOW = '/data/foundation/flowservice';
export const CATALOG = '/data/foundation/catalog';
export const CONVERSION = '/data/foundation/conversion';
export const SANDBOXES = '/data/foundation/sandbox-management/sandboxes';

export const SPECS = {
  postgres: '74a1c565-4e59-48d7-9d67-7c03b8a13137',
  redshift: '3416976c-a9ca-4bba-901a-1f08f66978ff',
  datalake: 'c604ff05-7f1a-43c0-8e18-33bf874cb11c',
  flow: '14518937-270c-4525-bdec-c2ba7cce3860',
};

/** A refusal by the API: `code` like `1362-400`, `details` as `[{path, message}]`. */
export class ApiError extends Error {
  constructor(status, message, code = '', details = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** The code's number, e.g. `1362`. */
  get number() {
    return this.code.split('-')[0];
  }
}

let onSessionEnded = () => {};
/** Called when the API no longer accepts the token (it expired or was revoked). */
export function whenSessionEnds(handler) {
  onSessionEnded = handler;
}

/** Exchanges a client's id and secret for a token; answers `{access_token, expires_in}`. */
export async function exchange(clientId, clientSecret) {
  const form = new URLSearchParams({grant_type: 'client_credentials', client_id: clientId,
    client_secret: clientSecret, scope: 'openid'});
  return send('/ims/token/v3', {method: 'POST', body: form,
    headers: {'Content-Type': 'application/x-www-form-urlencoded'}});
}

/**
 * One API call. `options`: `method`, `body` (sent as JSON), `etag` (If-Match),
 * `sandbox: false` for calls that take no sandbox. Answers the parsed body.
 */
export async function call(path, options = {}) {
  const current = session.current();
  if (!current) {
    onSessionEnded('Your session has ended. Sign in again.');
    throw new ApiError(401, 'Your session has ended. Sign in again.');
  }
  const headers = {
    Authorization: `Bearer ${current.token}`,
    'x-api-key': current.clientId,
    'x-gw-ims-org-id': current.org,
  };
  if (options.sandbox !== false) headers['x-sandbox-name'] = current.sandbox || 'prod';
  if (options.etag) headers['If-Match'] = options.etag;
  let body;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  try {
    return await send(path, {method: options.method || 'GET', headers, body});
  } catch (error) {
    if (error.status === 401) onSessionEnded('Inlet no longer accepts your sign-in (the token expired). Sign in again.');
    throw error;
  }
}

/** Every item of a Flow Service list, following its `_links.next` pages. */
export async function listAll(path, pages = 20) {
  const items = [];
  let next = path.includes('?') ? `${path}&limit=100` : `${path}?limit=100`;
  const prefix = path.startsWith(FLOW) ? FLOW : '';
  for (let page = 0; next && page < pages; page += 1) {
    const answer = await call(next);
    items.push(...(answer.items || []));
    const href = answer._links && answer._links.next && answer._links.next.href;
    next = href ? prefix + href : null;
  }
  return items;
}

/** The one item of a Flow Service `{"items": [item]}` answer. */
export async function one(path) {
  const answer = await call(path);
  return answer.items[0];
}

/** A Catalog answer keyed by id, as a list of items with their ids. */
export function keyed(answer) {
  return Object.entries(answer || {}).map(([id, item]) => ({...item, id: item.id || id}));
}

async function send(path, init) {
  let response;
  try {
    response = await fetch(path, {...init, credentials: 'omit', cache: 'no-store'});
  } catch {
    throw new ApiError(0, 'Inlet did not answer. Is `inlet serve` still running?');
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (response.ok) return body;
  throw refusal(response, body);
}

// The three error shapes of the API: Flow Service, gateway and OAuth.
function refusal(response, body) {
  const requestId = response.headers.get('x-request-id');
  if (body && body.errorMessage) {
    const code = (String(body.type || '').split('FLOW-')[1]) || '';
    const details = (body.report && body.report.details) || [];
    return new ApiError(response.status, body.errorMessage, code, details);
  }
  if (body && body.error_description) return new ApiError(response.status, body.error_description, body.error);
  if (body && body.message) return new ApiError(response.status, body.message, body.error_code || '');
  const where = requestId ? ` (request id ${requestId})` : '';
  return new ApiError(response.status, `Inlet answered ${response.status} ${response.statusText}${where}`);
}
