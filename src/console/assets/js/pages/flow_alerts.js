// A dataflow's alerts on its page: its own thresholds (Inlet's `inletAlerts`, edited with the
// rest of its settings) and its alert targets: which subscriptions send this flow's events,
// with this flow added to or removed from a subscription's flow list (`PATCH
// /subscriptions/{id}` of `/flowIds`, `If-Match` its etag). docs/alerts.md has the rules.

import {h, fill, notice, table} from '../dom.js';
import {field, textInput} from '../form.js';
import * as api from '../api.js';

const SUBSCRIPTIONS = `${api.FLOW}/subscriptions`;

// [key, label, help] of each threshold; an empty box is the server's setting.
const THRESHOLDS = [
  ['delayAfterMinutes', 'Delay alert after (minutes)',
    'A run not ended this long after it was due sends flow.run.delay (1 to 10080). Empty: the server\'s (150 minutes unless changed).'],
  ['freshnessAfterMinutes', 'Freshness target (minutes)',
    'No successful run for this long sends flow.freshness (1 to 43200). Empty: the server\'s (off unless set).'],
  ['failedRecordsPercent', 'Partial alert above (% of records)',
    'A run that skipped more than this share of the records it read sends flow.run.partial (0 to under 100). Empty: the server\'s (any skipped record).'],
  ['slotLagBytes', 'Slot lag alert above (bytes)',
    'A change data capture run leaving its slot retaining more WAL than this sends cdc.slot.lag. Empty: the server\'s (1 GiB unless changed).'],
];

/** The threshold fields, registered with `errors` at their API paths; `values()` reads them. */
export function thresholdFields(flow, errors) {
  const stored = flow.inletAlerts || {};
  // Slot lag means something for change data capture flows only, skipped records for the others.
  const only = {slotLagBytes: Boolean(flow.inletCdc), failedRecordsPercent: !flow.inletCdc};
  const shown = THRESHOLDS.filter(([key]) => only[key] !== false || stored[key] !== undefined);
  const fields = shown.map(([key, label, help]) => [key, errors.register(`/inletAlerts/${key}`, field({label,
    input: textInput({value: stored[key] === undefined ? '' : String(stored[key]), inputmode: 'decimal'}), help}))]);
  const node = h('fieldset', {class: 'thresholds'}, h('legend', {}, 'Alert thresholds'),
    h('div', {class: 'row'}, ...fields.map(([, f]) => f.node)));
  const values = () => Object.fromEntries(fields.map(([key, f]) => [key, f.input.value.trim()]));
  return {node, values};
}

/** The JSON Patch for the thresholds typed in `values`; empty when nothing changed. A value
 * that is no number is sent as typed, for the API to refuse beside its field. */
export function thresholdOps(flow, values) {
  const before = flow.inletAlerts || {};
  const after = {...before};
  for (const [key, text] of Object.entries(values)) {
    if (text === '') delete after[key];
    else after[key] = /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  }
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  if ([...keys].every((key) => before[key] === after[key])) return [];
  if (!Object.keys(after).length) return [{op: 'remove', path: '/inletAlerts'}];
  return [{op: flow.inletAlerts ? 'replace' : 'add', path: '/inletAlerts', value: after}];
}

/** Whether subscription `s` sends `flowId`'s events. */
function covers(s, flowId) {
  const ids = s.flowIds || [];
  return !ids.length || ids.includes(flowId);
}

/** The alert targets card: each subscription, whether it covers this flow, and a button
 * that adds this flow to its list or removes it. */
export function alertTargets(flow) {
  const out = h('div', {'aria-live': 'polite'});
  const body = h('div', {}, h('p', {class: 'help'}, 'Loading the subscriptions…'));
  const card = h('section', {class: 'card alert-targets', 'aria-labelledby': 'alert-targets-title'},
    h('h2', {id: 'alert-targets-title'}, 'Alert targets'),
    h('p', {class: 'help'}, 'The subscriptions that send this flow\'s events. A subscription with no flow list sends every flow\'s.'),
    out, body);
  const change = async (s, flowIds, message) => {
    fill(out);
    try {
      await api.call(`${SUBSCRIPTIONS}/${encodeURIComponent(s.id)}`, {method: 'PATCH', etag: s.etag,
        body: [{op: 'replace', path: '/flowIds', value: flowIds}]});
      fill(out, notice('ok', message));
    } catch (error) {
      fill(out, notice('error', error.status === 412
        ? `"${s.name || s.url}" changed meanwhile; it is shown again as it is now.`
        : `"${s.name || s.url}" not changed: ${error.message}`));
    }
    await draw();
  };
  const action = (s) => {
    const ids = s.flowIds || [];
    const name = s.name || s.url;
    if (!ids.length) return h('span', {class: 'help'}, 'Every flow: narrow it on the Alerts page');
    if (!ids.includes(flow.id)) {
      return h('button', {type: 'button', on: {click: () => change(s, [...ids, flow.id], `This flow added to "${name}".`)}}, 'Add this flow');
    }
    // An empty list means every flow: the last flow is not removed here.
    if (ids.length === 1) return h('span', {class: 'help'}, 'Its only flow: delete the subscription on the Alerts page');
    return h('button', {type: 'button', on: {click: () => change(s, ids.filter((id) => id !== flow.id), `This flow removed from "${name}".`)}},
      'Remove this flow');
  };
  const draw = async () => {
    let items;
    try {
      items = await api.listAll(SUBSCRIPTIONS);
    } catch (error) {
      fill(body, notice('error', `Subscriptions not read: ${error.message}`));
      return;
    }
    if (!items.length) {
      fill(body, h('p', {class: 'empty'}, 'No subscriptions in this sandbox yet: create one on the ',
        h('a', {href: '#/alerts'}, 'Alerts page'), '.'));
      return;
    }
    const rows = items.map((s) => [s.name || s.url, (s.events || []).join(', '),
      covers(s, flow.id) ? 'Sends this flow\'s events' : 'Not this flow', action(s)]);
    fill(body, table('Alert targets', ['Subscription', 'Events', 'This flow', ''], rows, {class: 'targets-table'}));
  };
  draw();
  return card;
}
