// The signed-in session: the token and whom it speaks for, kept in this tab's
// sessionStorage (never in a cookie, so no other site can make the browser use it, and
// gone when the tab closes). The client secret itself is never stored.

const KEY = 'inlet.session';

/** The session, or null when signed out or expired. */
export function current() {
  let session;
  try {
    session = JSON.parse(sessionStorage.getItem(KEY) || 'null');
  } catch {
    session = null;
  }
  if (!session || !session.token || Date.now() >= session.expiresAt) {
    if (session) sessionStorage.removeItem(KEY);
    return null;
  }
  return session;
}

/** Starts a session from a token answer of `/ims/token/v3`. */
export function start(token, expiresIn) {
  const claims = decodeClaims(token);
  const byExp = claims.exp ? claims.exp * 1000 : Infinity;
  const session = {
    token,
    clientId: claims.client_id,
    org: claims.org,
    expiresAt: Math.min(Date.now() + expiresIn * 1000, byExp),
    sandbox: null,
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

/** Chooses the sandbox every later call addresses. */
export function chooseSandbox(name) {
  const session = current();
  if (!session) return;
  session.sandbox = name;
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

/** Forgets everything: the token, whom it names, the sandbox. */
export function end() {
  sessionStorage.clear();
}

// Reads the token's claims (org, client id, expiry) for the headers; the server verifies it.
function decodeClaims(token) {
  const part = token.split('.')[1] || '';
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
  try {
    return JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '=')));
  } catch {
    return {};
  }
}
