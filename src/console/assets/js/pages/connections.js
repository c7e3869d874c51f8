// `#/connections`: the base connections, with test, explore, edit and delete.

import {h, add, fill, notice, table, confirmButton} from '../dom.js';
import * as api from '../api.js';
import {time} from '../format.js';

/** Names of the connection specs by id. */
export async function specNames() {
  const specs = await api.listAll(`${api.FLOW}/connectionSpecs`);
  return new Map(specs.map((s) => [s.id, s.name === 'postgre-sql' ? 'PostgreSQL' : s.name === 'amazon-redshift' ? 'Amazon Redshift' : s.name]));
}

/** Runs the connection test and shows its classified answer in `out`. */
export async function testConnection(id, out) {
  fill(out, notice('info', 'Testing: connecting to the database…'));
  try {
    const answer = await api.call(`${api.FLOW}/connections/${encodeURIComponent(id)}/test`);
    if (answer.result) {
      fill(out, notice('ok', 'Connection test succeeded: Inlet connected and logged in.'));
    } else {
      const e = answer.error || {};
      fill(out, notice('error', h('strong', {}, `Connection test failed (${e.code || 'unknown'}): `), e.message || ''));
    }
  } catch (error) {
    fill(out, notice('error', `Connection test failed: ${error.message}`));
  }
}

export async function render(view, ctx) {
  ctx.title('Connections');
  add(view, h('div', {class: 'page-head'},
    h('h1', {}, 'Connections'),
    h('a', {class: 'button primary', href: '#/connections/new'}, 'New connection')));
  const [items, names] = await Promise.all([api.listAll(`${api.FLOW}/connections`), specNames()]);
  if (!items.length) {
    add(view, h('p', {class: 'empty'}, 'No connections in this sandbox yet. ',
      h('a', {href: '#/connections/new'}, 'Connect a PostgreSQL or Redshift database'), ' to start.'));
    return;
  }
  const list = h('ul', {class: 'cards'});
  for (const c of items) add(list, card(c, names, ctx));
  add(view, list);
}

function card(c, names, ctx) {
  const out = h('div', {class: 'test-result', 'aria-live': 'polite'});
  const id = encodeURIComponent(c.id);
  const item = h('li', {class: 'card connection', 'data-id': c.id});
  const remove = async () => {
    try {
      await api.call(`${api.FLOW}/connections/${id}`, {method: 'DELETE'});
      ctx.flash('ok', `Connection "${c.name}" deleted.`);
      ctx.go('#/connections');
    } catch (error) {
      fill(out, notice('error', `Not deleted: ${error.message}`));
    }
  };
  const params = (c.auth && c.auth.params) || {};
  const where = params.server ? `${params.server}:${params.port || ''}/${params.database || ''}` : 'connection string (secret)';
  add(item, 
    h('h2', {}, c.name),
    h('p', {class: 'meta'}, `${names.get(c.connectionSpec.id) || c.connectionSpec.id} · ${c.auth.specName} · ${where}`),
    c.description ? h('p', {}, c.description) : null,
    h('p', {class: 'meta'}, `Created ${time(c.createdAt)} · id ${c.id}`),
    h('div', {class: 'actions'},
      h('button', {type: 'button', on: {click: () => testConnection(c.id, out)}}, 'Test'),
      h('a', {class: 'button', href: `#/connections/${id}/explore`}, 'Explore'),
      h('a', {class: 'button', href: `#/connections/${id}/edit`}, 'Edit'),
      confirmButton('Delete', 'Delete this connection?', remove)),
    out);
  return item;
}
