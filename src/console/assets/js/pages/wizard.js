// `#/flows/new`: the dataflow wizard. Source table and columns → dataset → mapping →
// schedule → review → create. The API is the judge of every rule: its refusals are shown
// beside the field they name, on the step that holds it.

import {h, add, fill, notice} from '../dom.js';
import * as api from '../api.js';
import {STEPS, stepOf} from './wizard_steps.js';
import {create} from './wizard_create.js';

function initialState(ctx) {
  return {
    connectionId: ctx.query.get('connection') || '',
    tablePath: ctx.query.get('table') || '',
    columns: [],
    chosen: new Set(),
    dataset: {mode: 'new', name: '', description: '', existingId: ''},
    cdc: false,
    mapping: {enabled: false, rows: []},
    schedule: {frequency: 'once', interval: '', startMode: 'now', startAt: '', backfill: false, deltaColumn: '',
      mergeByKey: false, schemaChangePolicy: 'propagate'},
    name: '',
    errors: {},
    summary: null,
  };
}

export async function render(view, ctx) {
  ctx.title('New dataflow');
  const state = initialState(ctx);
  state.connections = await api.listAll(`${api.FLOW}/connections`);
  add(view, h('h1', {}, 'New dataflow'));
  if (!state.connections.length) {
    add(view, h('p', {class: 'empty'}, 'A dataflow reads a table through a connection: ',
      h('a', {href: '#/connections/new'}, 'create a connection'), ' first.'));
    return;
  }
  if (!state.connectionId) state.connectionId = state.connections[0].id;
  const progress = h('ol', {class: 'steps', 'aria-label': 'Steps'});
  const body = h('div', {class: 'step-body'});
  add(view, progress, body);
  let step = 0;
  let current = null;

  const show = async (next) => {
    if (current) current.collect();
    step = next;
    fill(progress, STEPS.map((s, i) => h('li', {},
      h('button', {type: 'button', class: 'link', 'aria-current': i === step ? 'step' : null,
        on: {click: () => i < step && show(i)}, disabled: i > step}, `${i + 1}. ${s.title}`))));
    const ui = {
      next: async () => {
        current.collect();
        const problems = STEPS[step].check ? STEPS[step].check(state) : {};
        if (Object.keys(problems).length) {
          state.errors = problems;
          state.summary = null;
          return show(step);
        }
        state.errors = {};
        state.summary = null;
        return show(step + 1);
      },
      back: () => show(step - 1),
      redraw: () => show(step),
      create: () => submit(),
    };
    current = await STEPS[step].render(state, ui);
    const heading = h('h2', {tabindex: '-1'}, `Step ${step + 1} of ${STEPS.length}: ${STEPS[step].title}`);
    fill(body, heading, state.summary ? notice('error', state.summary) : null, current.node);
    const invalid = body.querySelector('[aria-invalid=true]');
    (invalid || heading).focus();
  };

  const submit = async () => {
    current.collect();
    ctx.announce('Creating the dataflow…');
    try {
      const flowId = await create(state);
      ctx.flash('ok', `Dataflow "${state.name}" created. Its runs appear below as they start.`);
      ctx.go(`#/flows/${encodeURIComponent(flowId)}`);
    } catch (error) {
      state.errors = error.key ? {[error.key]: error.message} : {};
      state.summary = error.key
        ? `The API refused the dataflow: ${error.message} The field is marked on this step; nothing was kept.`
        : `The dataflow was not created: ${error.message}`;
      await show(error.key ? stepOf(error.key) : step);
    }
  };

  await show(0);
}
