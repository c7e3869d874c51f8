// `#/datasets`: the sandbox's datasets.

import {h, add, table} from '../dom.js';
import * as api from '../api.js';
import {time, badge} from '../format.js';

export async function render(view, ctx) {
  ctx.title('Datasets');
  add(view, h('h1', {}, 'Datasets'));
  const datasets = api.keyed(await api.call(`${api.CATALOG}/dataSets?limit=100&orderBy=desc:created`));
  if (!datasets.length) {
    add(view, h('p', {class: 'empty'}, 'No datasets yet: a ', h('a', {href: '#/flows/new'}, 'dataflow'), ' creates one.'));
    return;
  }
  add(view, table('Datasets', ['Name', 'Created', 'Last batch', 'Id'], datasets.map((d) => [
    h('a', {href: `#/datasets/${encodeURIComponent(d.id)}`}, d.name),
    time(d.created),
    d.lastBatchStatus ? badge(d.lastBatchStatus) : 'no batch yet',
    h('code', {}, d.id),
  ])));
}
