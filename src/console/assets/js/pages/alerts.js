// `#/alerts`: webhook subscriptions (docs/alerts.md): create one (its secret is shown
// once; optionally a rate limit), send a test event, see each one's deliveries, delete it.

import {h, add, fill, notice, table, confirmButton} from '../dom.js';
import {field, textInput, Errors} from '../form.js';
import * as api from '../api.js';
import {time, badge} from '../format.js';

const PATH = `${api.FLOW}/subscriptions`;
const EVENTS = [
  ['flow.run.failure', 'A run failed'],
  ['flow.paused', 'A schema change paused a flow'],
  ['flow.run.delay', 'A run is late (past its flow\'s delay threshold, 150 minutes unless the flow sets one)'],
  ['flow.run.partial', 'A run skipped failed records'],
  ['flow.run.success', 'A run succeeded'],
  ['flow.run.start', 'A run started'],
  ['flow.freshness', 'A flow has had no success for too long'],
  ['cdc.slot.lag', 'A change data capture slot retains too much WAL'],
];

// The secret of the subscription just created, shown by the next render only: it lives in
// this module's memory for one page draw, never in storage.
let reveal = null;

export async function render(view, ctx) {
  ctx.title('Alerts');
  add(view, h('h1', {}, 'Alerts'),
    h('p', {class: 'lead'}, 'Inlet POSTs flow run events to your webhook, signed with a secret shown once, and retries for 24 hours.'));
  if (reveal) {
    add(view, notice('ok', h('strong', {}, 'Signing secret (shown only now): '),
      h('code', {class: 'secret'}, reveal),
      h('p', {}, 'Keep it where your receiver checks the x-inlet-signature header (docs/alerts.md). Inlet will not show it again.')));
    reveal = null;
  }
  add(view, createForm(ctx));
  const items = await api.listAll(PATH);
  if (!items.length) {
    add(view, h('p', {class: 'empty'}, 'No subscriptions in this sandbox yet.'));
    return;
  }
  const list = h('ul', {class: 'cards'});
  for (const s of items) add(list, card(s, ctx));
  add(view, list);
}

function createForm(ctx) {
  const errors = new Errors();
  const name = errors.register('/name', field({label: 'Name', input: textInput({name: 'name'})}));
  const url = errors.register('/url', field({label: 'Webhook URL', required: true,
    input: textInput({name: 'url', placeholder: 'https://hooks.example.com/inlet'}),
    help: 'HTTPS; the server’s egress policy decides which hosts may be reached.'}));
  const boxes = EVENTS.map(([value, label]) => h('label', {class: 'choice'},
    h('input', {type: 'checkbox', name: 'events', value, checked: value === 'flow.run.failure'}), ' ', label));
  const events = errors.register('/events', field({label: 'Events', group: true, input: h('div', {}, boxes)}));
  const rate = errors.register('/maxDeliveriesPerMinute', field({label: 'Deliveries per minute, at most',
    input: textInput({name: 'rate', inputmode: 'numeric'}),
    help: 'Beyond it deliveries wait for the next minute; none is dropped (1 to 60000). Empty: no limit.'}));
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Create subscription');
  const form = h('form', {class: 'card'}, h('h2', {}, 'New subscription'), name.node, url.node, events.node, rate.node,
    errors.summary, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errors.clear();
    submit.disabled = true;
    const picked = [...form.querySelectorAll('input[name=events]:checked')].map((b) => b.value);
    const body = {name: name.input.value.trim(), url: url.input.value.trim(), events: picked};
    const limit = rate.input.value.trim();
    // A value that is no number is sent as typed, for the API to refuse beside the field.
    if (limit) body.maxDeliveriesPerMinute = /^\d+$/.test(limit) ? Number(limit) : limit;
    try {
      const created = await api.call(PATH, {method: 'POST', body});
      reveal = created.secret;
      ctx.flash('ok', 'Subscription created; a test event is on its way.');
      ctx.go('#/alerts');
    } catch (error) {
      errors.show(error);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function card(s, ctx) {
  const out = h('div', {class: 'test-result', 'aria-live': 'polite'});
  const deliveries = h('div', {class: 'deliveries'});
  const id = encodeURIComponent(s.id);
  const item = h('li', {class: 'card subscription', 'data-id': s.id});
  const test = async () => {
    try {
      await api.call(`${PATH}/${id}/test`, {method: 'POST', body: {}});
      fill(out, notice('info', 'Test event queued. Open the deliveries to see it arrive.'));
    } catch (error) {
      fill(out, notice('error', `Test not sent: ${error.message}`));
    }
  };
  const show = async () => {
    try {
      const answer = await api.call(`${PATH}/${id}/deliveries?limit=50`);
      const rows = (answer.items || []).map((d) => [d.eventType, badge(d.status), String(d.attempts),
        d.lastResponseCode ? String(d.lastResponseCode) : '—', d.lastError || '', time(d.updatedAt)]);
      fill(deliveries, rows.length
        ? table('Deliveries', ['Event', 'Status', 'Attempts', 'Answer', 'Last error', 'Updated'], rows, {class: 'deliveries-table'})
        : h('p', {class: 'empty'}, 'No deliveries yet.'));
    } catch (error) {
      fill(deliveries, notice('error', `Deliveries not read: ${error.message}`));
    }
  };
  const remove = async () => {
    try {
      await api.call(`${PATH}/${id}`, {method: 'DELETE'});
      ctx.flash('ok', `Subscription "${s.name || s.url}" deleted.`);
      ctx.go('#/alerts');
    } catch (error) {
      fill(out, notice('error', `Not deleted: ${error.message}`));
    }
  };
  add(item,
    h('h2', {}, s.name || s.url),
    h('p', {class: 'meta'}, s.url),
    h('p', {class: 'meta'}, `Events: ${(s.events || []).join(', ')}${(s.flowIds || []).length ? ` · flows ${s.flowIds.join(', ')}` : ' · every flow'}`),
    h('p', {class: 'meta'}, `Created ${time(s.createdAt)} · id ${s.id}${s.maxDeliveriesPerMinute ? ` · at most ${s.maxDeliveriesPerMinute} a minute` : ''}`),
    h('div', {class: 'actions'},
      h('button', {type: 'button', on: {click: test}}, 'Send test'),
      h('button', {type: 'button', on: {click: show}}, 'Deliveries'),
      confirmButton('Delete', 'Delete this subscription?', remove)),
    out, deliveries);
  return item;
}
