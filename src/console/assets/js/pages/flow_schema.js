// A dataflow's schema changes: the panel of a flow paused by one (what changed, and the
// user's choices, each re-running the paused run), and the changes a run recorded.

import {h, fill, notice} from '../dom.js';
import * as api from '../api.js';

const LABELS = {
  accept: 'Accept the changes',
  resnapshot: 'Re-snapshot the dataset',
};

/** One change as a line: `extra: added (string), applied`. */
function line(change) {
  const types = change.from && change.to ? `${change.from} → ${change.to}` : (change.to || change.from || '');
  return h('li', {}, h('code', {}, change.column), `: ${change.kind}${types ? ` (${types})` : ''}, ${change.action}`);
}

/** The changes a run met, or nothing. */
export function runChanges(run) {
  const changes = run.inletSchemaChanges || [];
  if (!changes.length) return null;
  return h('ul', {class: 'schema-changes', 'aria-label': 'Schema changes'}, changes.map(line));
}

async function choose(choice, out, refresh) {
  try {
    await api.call(`${api.FLOW}${choice.post}`, {method: 'POST'});
    fill(out, notice('ok', `${LABELS[choice.choice] || choice.choice}: the paused run starts again, then the waiting windows land.`));
    refresh();
  } catch (error) {
    fill(out, notice('error', `Could not go on: ${error.message}`));
  }
}

/** The panel of a flow paused by a schema change; `null` when it is not paused. */
export function pausePanel(flow, refresh) {
  const paused = flow.inletPaused;
  if (!paused) return null;
  const out = h('div', {'aria-live': 'polite'});
  const choices = paused.choices.map((choice) => h('div', {class: 'choice'},
    h('button', {type: 'button', class: choice.choice === 'accept' ? 'primary' : '', on: {click: () => choose(choice, out, refresh)}},
      LABELS[choice.choice] || choice.choice),
    h('p', {class: 'help'}, choice.does)));
  return h('section', {class: 'card paused', 'aria-labelledby': 'paused-title'},
    h('h2', {id: 'paused-title'}, 'Paused by a schema change'),
    h('p', {}, 'The source table\'s columns changed in a way this flow does not take by itself. Its windows wait until you choose.'),
    h('ul', {class: 'schema-changes'}, paused.schemaChanges.map(line)),
    ...choices, out);
}
