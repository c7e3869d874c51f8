// `#/connections/<id>/explore`: the connection's tables as a tree by schema, a table's
// columns with their Inlet and XDM types, and a preview of its first rows.

import {h, add, fill, notice, table} from '../dom.js';
import * as api from '../api.js';
import {value} from '../format.js';

/** Splits an explore path (`public.orders`, `"My Schema"."Order Lines"`) into its two names. */
export function splitPath(path) {
  const names = [];
  let rest = path;
  while (rest.length) {
    let name;
    if (rest.startsWith('"')) {
      let i = 1;
      name = '';
      while (i < rest.length) {
        if (rest[i] === '"' && rest[i + 1] === '"') { name += '"'; i += 2; } else if (rest[i] === '"') { i += 1; break; } else { name += rest[i]; i += 1; }
      }
      rest = rest.slice(i);
    } else {
      const dot = rest.indexOf('.');
      name = dot < 0 ? rest : rest.slice(0, dot);
      rest = dot < 0 ? '' : rest.slice(dot);
    }
    names.push(name);
    if (rest.startsWith('.')) rest = rest.slice(1);
  }
  return names.length > 1 ? [names[0], names.slice(1).join('.')] : ['public', names[0] || ''];
}

/** Whether a column holds timestamps or dates (it can window a run). */
export const isTimestamp = (c) => ['date-time', 'date'].includes((c.xdm && c.xdm.format) || c['meta:xdmType']);

/** A column's XDM type in words, e.g. `string (date-time)`. */
export function xdmType(column) {
  const xdm = column.xdm || {};
  return xdm.format ? `${xdm.type} (${xdm.format})` : xdm.type || '—';
}

/** The table's columns and `rows` of preview (0 for none). */
export async function describe(connectionId, path, rows = 0) {
  const q = new URLSearchParams({objectType: 'table', object: path});
  if (rows) { q.set('preview', 'true'); q.set('limit', String(rows)); }
  return api.call(`${api.FLOW}/connections/${encodeURIComponent(connectionId)}/explore?${q}`);
}

/** The connection's tables and views, by schema. */
export async function tablesBySchema(connectionId) {
  const entries = await api.call(`${api.FLOW}/connections/${encodeURIComponent(connectionId)}/explore?objectType=root`);
  const schemas = new Map();
  for (const entry of entries) {
    const [schema, name] = splitPath(entry.path);
    if (!schemas.has(schema)) schemas.set(schema, []);
    schemas.get(schema).push({...entry, table: name});
  }
  return schemas;
}

export async function render(view, ctx) {
  const id = ctx.params[0];
  const c = await api.one(`${api.FLOW}/connections/${encodeURIComponent(id)}`);
  ctx.title(`Explore ${c.name}`);
  add(view, h('h1', {}, `Explore ${c.name}`));
  const detail = h('section', {class: 'explore-detail', 'aria-live': 'polite'},
    h('p', {class: 'empty'}, 'Choose a table to see its columns and first rows.'));
  const tree = h('nav', {class: 'tree', 'aria-label': 'Tables by schema'}, h('p', {class: 'loading'}, 'Listing tables…'));
  add(view, h('div', {class: 'explore'}, tree, detail));
  let schemas;
  try {
    schemas = await tablesBySchema(id);
  } catch (error) {
    fill(tree, notice('error', `Could not list the tables: ${error.message}`));
    return;
  }
  if (!schemas.size) {
    fill(tree, h('p', {class: 'empty'}, 'This user can read no tables or views here.'));
    return;
  }
  const open = (entry) => {
    history.replaceState(null, '', `#/connections/${encodeURIComponent(id)}/explore?table=${encodeURIComponent(entry.path)}`);
    for (const b of tree.querySelectorAll('button[aria-current]')) b.removeAttribute('aria-current');
    const button = tree.querySelector(`button[data-path="${CSS.escape(entry.path)}"]`);
    if (button) button.setAttribute('aria-current', 'true');
    showTable(detail, id, entry.path);
  };
  fill(tree, [...schemas].map(([schema, entries]) => h('details', {open: true},
    h('summary', {}, schema, h('span', {class: 'count'}, ` (${entries.length})`)),
    h('ul', {}, entries.map((entry) => h('li', {},
      h('button', {type: 'button', class: 'link', 'data-path': entry.path, on: {click: () => open(entry)}},
        entry.table, entry.meta && entry.meta.kind && entry.meta.kind !== 'table' ? h('span', {class: 'kind'}, ` ${entry.meta.kind}`) : null)))))));
  const wanted = ctx.query.get('table');
  const entry = wanted && [...schemas.values()].flat().find((e) => e.path === wanted);
  if (entry) open(entry);
}

async function showTable(detail, connectionId, path) {
  fill(detail, h('p', {class: 'loading'}, `Reading ${path}…`));
  let answer;
  try {
    answer = await describe(connectionId, path, 10);
  } catch (error) {
    fill(detail, notice('error', `Could not read ${path}: ${error.message}`));
    return;
  }
  const columns = answer.schema.columns;
  const rows = answer.data || [];
  const wizard = `#/flows/new?connection=${encodeURIComponent(connectionId)}&table=${encodeURIComponent(path)}`;
  fill(detail,
    h('div', {class: 'page-head'}, h('h2', {}, path), h('a', {class: 'button primary', href: wizard}, 'Create a dataflow from this table')),
    h('h3', {}, `Columns (${columns.length})`),
    table(`Columns of ${path}`, ['Column', 'Inlet type', 'XDM type', 'Source type'],
      columns.map((col) => [h('code', {}, col.name), col.type, xdmType(col), (col.meta && col.meta.originalType) || '—']),
      {class: 'columns'}),
    h('h3', {}, `Preview: the first ${rows.length} rows`),
    rows.length
      ? table(`First rows of ${path}`, columns.map((col) => col.name), rows.map((row) => columns.map((col) => value(row[col.name]))), {class: 'preview'})
      : h('p', {class: 'empty'}, 'The table is empty.'));
}
