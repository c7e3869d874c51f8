// The console's shell: hash routes to pages, the header, the session's end.

import {h, add, fill, notice} from './dom.js';
import * as api from './api.js';
import * as session from './session.js';
import * as signin from './pages/signin.js';
import * as connections from './pages/connections.js';
import * as connectionForm from './pages/connection_form.js';
import * as explore from './pages/explore.js';
import * as wizard from './pages/wizard.js';
import * as flows from './pages/flows.js';
import * as flow from './pages/flow.js';
import * as datasets from './pages/datasets.js';
import * as dataset from './pages/dataset.js';
import * as alerts from './pages/alerts.js';

// [pattern, page, section]; a page is `render(section, ctx)`.
const ROUTES = [
  [/^\/signin$/, signin.render, null],
  [/^\/sandbox$/, signin.renderSandbox, null],
  [/^\/connections$/, connections.render, 'connections'],
  [/^\/connections\/new$/, connectionForm.renderNew, 'connections'],
  [/^\/connections\/([^/]+)\/edit$/, connectionForm.renderEdit, 'connections'],
  [/^\/connections\/([^/]+)\/explore$/, explore.render, 'connections'],
  [/^\/flows\/new$/, wizard.render, 'flows'],
  [/^\/flows$/, flows.render, 'flows'],
  [/^\/flows\/([^/]+)$/, flow.render, 'flows'],
  [/^\/datasets$/, datasets.render, 'datasets'],
  [/^\/datasets\/([^/]+)$/, dataset.render, 'datasets'],
  [/^\/alerts$/, alerts.render, 'alerts'],
];

const main = document.getElementById('main');
let flash = null;
let leaving = [];
let expiryTimer = null;

/** Shows `message` on the next page drawn. */
function setFlash(kind, message) {
  flash = {kind, message};
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function signOut(message) {
  session.end();
  clearTimeout(expiryTimer);
  expiryTimer = null;
  setFlash(message ? 'info' : 'ok', message || 'Signed out. Nothing of the session is left in this browser.');
  go('#/signin');
}

function watchExpiry(current) {
  clearTimeout(expiryTimer);
  const left = current.expiresAt - Date.now();
  expiryTimer = setTimeout(() => signOut('Your session expired. Sign in again to go on.'), Math.min(left, 2 ** 31 - 1));
}

function header(current, section) {
  const signedIn = Boolean(current && current.sandbox);
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('who').hidden = !current;
  if (current) {
    fill(document.getElementById('sandbox-link'), `${current.org} · sandbox `, h('strong', {}, current.sandbox || '—'));
  }
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

async function route() {
  for (const stop of leaving) stop();
  leaving = [];
  const [path, query] = (location.hash.slice(1) || '/').split('?');
  const current = session.current();
  if (!current && path !== '/signin') return go('#/signin');
  if (current && !current.sandbox && path !== '/sandbox' && path !== '/signin') return go('#/sandbox');
  if (current) watchExpiry(current);
  const match = ROUTES.map(([re, page, sec]) => [path.match(re), page, sec]).find(([m]) => m);
  if (!match) return go(current ? '#/connections' : '#/signin');
  const [groups, page, section] = match;
  header(current, section);
  const view = h('div', {class: 'page'});
  if (flash) add(view, notice(flash.kind, flash.message));
  flash = null;
  fill(main, view);
  const ctx = {
    params: groups.slice(1).map(decodeURIComponent),
    query: new URLSearchParams(query || ''),
    go,
    flash: setFlash,
    alive: () => view.isConnected,
    onLeave: (stop) => leaving.push(stop),
    title: (text) => { document.title = `${text} · Inlet`; },
    announce: (text) => fill(document.getElementById('announcer'), text),
  };
  try {
    await page(view, ctx);
  } catch (error) {
    if (view.isConnected) add(view, notice('error', error.message || String(error)));
  }
  if (view.isConnected && !view.contains(document.activeElement)) {
    const heading = view.querySelector('h1');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({preventScroll: true});
    }
  }
}

api.whenSessionEnds((message) => signOut(message));
document.getElementById('sign-out').addEventListener('click', () => signOut());
document.getElementById('skip').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', route);
route();
