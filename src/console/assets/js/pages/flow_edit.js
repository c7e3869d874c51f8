// A dataflow's settings on its page: name, schedule, failed-record threshold and alert
// thresholds (flow_alerts.js), changed with `PATCH /flows/{id}`
// (JSON Patch, `If-Match` the flow's etag), and deleting the flow. The API judges every
// change; its refusals are shown beside the field they name.

import {h, fill, notice, confirmButton} from '../dom.js';
import {field, textInput, select, Errors} from '../form.js';
import * as api from '../api.js';
import {thresholdFields, thresholdOps} from './flow_alerts.js';

const FREQUENCIES = [['once', 'Once'], ['minute', 'Every few minutes'], ['hour', 'Hourly'], ['day', 'Daily'], ['week', 'Weekly']];

/** The JSON Patch that turns `flow` into the form's values; empty when nothing changed. */
export function patchOps(flow, {name, frequency, interval, partial}) {
  const ops = [];
  if (name !== flow.name) ops.push({op: 'replace', path: '/name', value: name});
  const before = flow.scheduleParams || {};
  const after = {...before, frequency};
  if (frequency === 'once') delete after.interval;
  else after.interval = interval;
  const same = before.frequency === after.frequency && String(before.interval ?? '') === String(after.interval ?? '');
  // The stored startTime is kept as it is: a PATCH that keeps it is not refused once it has passed.
  if (!same) ops.push({op: 'replace', path: '/scheduleParams', value: after});
  const options = {...(flow.options || {})};
  const had = options.partialIngestionPercent === undefined ? '' : String(options.partialIngestionPercent);
  if (partial !== had) {
    if (partial) options.partialIngestionPercent = partial;
    else delete options.partialIngestionPercent;
    ops.push({op: flow.options ? 'replace' : 'add', path: '/options', value: options});
  }
  return ops;
}

/** The edit form: `done(message)` is called after the API accepted a change. */
export function editForm(flow, done) {
  const errors = new Errors();
  const s = flow.scheduleParams || {};
  const name = errors.register('/name', field({label: 'Name', required: true, input: textInput({value: flow.name})}));
  const frequency = errors.register('/scheduleParams/frequency', field({label: 'Frequency', required: true,
    input: select(FREQUENCIES, s.frequency)}));
  const interval = errors.register('/scheduleParams/interval', field({label: 'Interval', input: textInput({value: s.interval ?? '', inputmode: 'numeric'}),
    help: 'How many of the frequency\'s units between runs (not used by a once flow).'}));
  const stored = (flow.options || {}).partialIngestionPercent;
  const partial = errors.register('/options/partialIngestionPercent', field({label: 'Failed-record threshold (%)',
    input: textInput({value: stored === undefined ? '' : String(stored), inputmode: 'decimal'}),
    help: 'Rows that cannot be converted are skipped until they pass this share of a run; then the run fails. Empty: the first such row fails the run.'}));
  const thresholds = thresholdFields(flow, errors);
  const out = h('div', {'aria-live': 'polite'});
  const form = h('form', {class: 'card flow-edit'}, h('h2', {}, 'Settings'),
    h('div', {class: 'row'}, name.node, frequency.node, interval.node), partial.node, thresholds.node, errors.summary, out,
    h('button', {type: 'submit', class: 'primary'}, 'Save changes'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errors.clear();
    fill(out);
    const ops = patchOps(flow, {name: name.input.value.trim(), frequency: frequency.input.value, interval: interval.input.value.trim(),
      partial: partial.input.value.trim()}).concat(thresholdOps(flow, thresholds.values()));
    if (!ops.length) {
      fill(out, notice('info', 'Nothing changed.'));
      return;
    }
    try {
      await api.call(`${api.FLOW}/flows/${encodeURIComponent(flow.id)}`, {method: 'PATCH', body: ops, etag: flow.etag});
      done(`Dataflow "${name.input.value.trim()}" saved.`);
    } catch (error) {
      const stale = error.status === 412;
      if (stale) fill(out, notice('error', 'The flow changed since this page was drawn: reload the page and make the change again.'));
      else errors.show(error, {1361: '/scheduleParams/interval', 1362: '/scheduleParams/interval', 1363: '/scheduleParams/frequency'});
    }
  });
  return form;
}

/** Deletes the flow after a confirmation in place; `gone(message)` after the API did. */
export function deleteButton(flow, out, gone) {
  return confirmButton('Delete', `Delete "${flow.name}"? Its runs that have not started are cancelled; the dataset stays.`, async () => {
    try {
      await api.call(`${api.FLOW}/flows/${encodeURIComponent(flow.id)}`, {method: 'DELETE'});
      gone(`Dataflow "${flow.name}" deleted.`);
    } catch (error) {
      fill(out, notice('error', `Could not delete "${flow.name}": ${error.message}`));
    }
  });
}
