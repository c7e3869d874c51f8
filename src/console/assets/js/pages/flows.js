// `#/flows`: the dataflows with their state, schedule and last run.

import {h, add, fill, notice, table} from '../dom.js';
import * as api from '../api.js';
import {time, badge, schedule} from '../format.js';

/** Enables or disables the flow; answers the API's `{id, etag}`. */
export function setState(flowId, op) {
  return api.call(`${api.FLOW}/flows/${encodeURIComponent(flowId)}/action?op=${op}`, {method: 'POST'});
}

/** A button that enables a disabled flow or disables an enabled one, then calls `done`. */
export function toggle(flow, out, done) {
  const op = flow.state === 'enabled' ? 'disable' : 'enable';
  return h('button', {type: 'button', on: {click: async () => {
    try {
      await setState(flow.id, op);
      done(`Dataflow "${flow.name}" ${op}d.`);
    } catch (error) {
      fill(out, notice('error', `Could not ${op} "${flow.name}": ${error.message}`));
    }
  }}}, op === 'enable' ? 'Enable' : 'Disable');
}

export async function render(view, ctx) {
  ctx.title('Dataflows');
  add(view, h('div', {class: 'page-head'}, h('h1', {}, 'Dataflows'),
    h('a', {class: 'button primary', href: '#/flows/new'}, 'New dataflow')));
  const flows = await api.listAll(`${api.FLOW}/flows`);
  if (!flows.length) {
    add(view, h('p', {class: 'empty'}, 'No dataflows in this sandbox yet. ',
      h('a', {href: '#/flows/new'}, 'Create one'), ', or start from a table in ', h('a', {href: '#/connections'}, 'Connections'), '.'));
    return;
  }
  const out = h('div');
  const done = (message) => { ctx.flash('ok', message); ctx.go('#/flows'); };
  add(view, out, table('Dataflows', ['Name', 'State', 'Schedule', 'Last run', 'Actions'], flows.map((f) => {
    const last = f.lastRunDetails;
    return [
      h('a', {href: `#/flows/${encodeURIComponent(f.id)}`}, f.name),
      badge(f.state),
      schedule(f.scheduleParams),
      last ? h('span', {}, badge(last.state), ' ', time(last.completedAtUTC || last.startedAtUTC)) : 'no run yet',
      toggle(f, out, done),
    ];
  }), {class: 'flows'}));
}
