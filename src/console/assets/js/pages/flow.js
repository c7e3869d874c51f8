// `#/flows/<id>`: one dataflow, its runs (live while one is in progress), a chart of rows
// and duration per run, run-now for `once` flows, its settings (edit, delete) and its alert
// targets.

import {h, add, fill, notice, table} from '../dom.js';
import {field, select, Errors} from '../form.js';
import {describe, isTimestamp, xdmType} from './explore.js';
import * as api from '../api.js';
import {time, instant, count, bytes, duration, badge, schedule, runDuration} from '../format.js';
import {runChart} from '../chart.js';
import {toggle} from './flows.js';
import {pausePanel, runChanges} from './flow_schema.js';
import {editForm, deleteButton} from './flow_edit.js';
import {alertTargets} from './flow_alerts.js';

const LIVE = ['scheduled', 'inProgress'];
const status = (run) => run.metrics.statusSummary.status;

/** The flow's runs, newest first. */
async function runsOf(flowId) {
  const q = new URLSearchParams({property: `flowId==${flowId}`, orderby: '-createdAt'});
  return api.listAll(`${api.FLOW}/runs?${q}`);
}

function localInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

/** The timestamp and date columns of the flow's source table, which can window a run. */
async function windowColumns(flow) {
  const source = await api.one(`${api.FLOW}/sourceConnections/${encodeURIComponent(flow.sourceConnectionIds[0])}`);
  const described = await describe(source.baseConnectionId, source.params.tableName);
  return described.schema.columns.filter(isTimestamp);
}

/** The on-demand run form of a `once` flow: a window and the column that places rows in
 * it, then `POST /runs`. */
function runNow(flow, refresh) {
  const errors = new Errors();
  const now = Date.now();
  const start = errors.register('/params/windowStartTime', field({label: 'Window start',
    input: h('input', {type: 'datetime-local', value: localInput(now - 86400000), step: 1})}));
  const end = errors.register('/params/windowEndTime', field({label: 'Window end',
    input: h('input', {type: 'datetime-local', value: localInput(now), step: 1})}));
  const column = errors.register('/params/deltaColumn', field({label: 'Delta column', required: true,
    input: select([['', 'Loading the table\'s columns…']], '')}));
  windowColumns(flow).then((columns) => {
    fill(column.input, ...(columns.length
      ? columns.map((c) => h('option', {value: c.name}, `${c.name} (${xdmType(c)})`))
      : [h('option', {value: ''}, 'The table has no timestamp or date column')]));
  }, (error) => fill(column.input, h('option', {value: ''}, `Columns unavailable: ${error.message}`)));
  const out = h('div', {'aria-live': 'polite'});
  const form = h('form', {class: 'card run-now'}, h('h2', {}, 'Run now'),
    h('p', {class: 'help'}, 'The run appends the rows whose delta column falls in the window, once the flow\'s earlier runs have landed.'),
    h('div', {class: 'row'}, start.node, end.node, column.node), errors.summary, out,
    h('button', {type: 'submit', class: 'primary'}, 'Start a run'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errors.clear();
    const seconds = (f) => String(Math.floor(Date.parse(f.input.value) / 1000));
    const params = {windowStartTime: seconds(start), windowEndTime: seconds(end)};
    if (column.input.value) params.deltaColumn = {name: column.input.value};
    try {
      await api.call(`${api.FLOW}/runs`, {method: 'POST', body: {flowId: flow.id, params}});
      fill(out, notice('ok', 'Run started; it appears in the runs above.'));
      refresh();
    } catch (error) {
      errors.show(error, {1381: '/params/windowEndTime', 1382: '/params/windowStartTime',
        1384: '/params/deltaColumn', 1331: '/params/deltaColumn'});
    }
  });
  return form;
}

async function retrigger(run, out, refresh) {
  try {
    await api.call(`${api.FLOW}/runs/${encodeURIComponent(run.id)}/action?op=re-trigger`, {method: 'POST'});
    fill(out, notice('ok', 'The run was started again.'));
    refresh();
  } catch (error) {
    const missing = error.status === 404 && /no resource lives at this path/i.test(error.message);
    fill(out, notice('error', missing
      ? 'This Inlet server cannot re-run a run yet (it has no POST /runs/{id}/action?op=re-trigger). Use Run now, or wait for the next window.'
      : `Could not re-run: ${error.message}`));
  }
}

function runRow(run, out, refresh) {
  const m = run.metrics;
  const activity = (run.activities || [])[0] || {};
  const ext = (activity.durationSummary && activity.durationSummary.extensions) || {};
  const problems = [...(m.statusSummary.errors || []), ...(m.statusSummary.warnings || [])];
  const rec = m.recordSummary || {};
  const size = m.sizeSummary || {};
  const took = runDuration(run);
  return [
    badge(status(run)),
    `${instant(ext.windowStart, 'the beginning')} → ${instant(ext.windowEnd, 'open')}`,
    time(m.durationSummary.startedAtUTC),
    took === null && status(run) === 'inProgress' ? 'running…' : duration(took),
    h('span', {}, `${count(rec.inputRecordCount)} read, ${count(rec.outputRecordCount)} written`,
      rec.failedRecordCount ? `, ${count(rec.failedRecordCount)} skipped` : ''),
    `${bytes(size.inputBytes)} in, ${bytes(size.outputBytes)} out`,
    problems.length || run.inletSchemaChanges
      ? [problems.length ? h('ul', {class: 'problems'}, problems.map((e) => h('li', {}, h('code', {}, e.code), ` ${e.message}`))) : null, runChanges(run)]
      : '—',
    status(run) === 'failed' ? h('button', {type: 'button', on: {click: () => retrigger(run, out, refresh)}}, 'Re-run') : '',
  ];
}

/** How each run copies, in words: change data capture, a delta column (merged by key or
 * appended) or the whole table. */
function copying(source, copy) {
  if (source && source.params.cdcEnabled) return 'change data capture: each run merges the changes since the previous one';
  const params = (copy && copy.params) || {};
  if (!params.deltaColumn) return 'the whole table on every run';
  return `rows by delta column ${params.deltaColumn.name}, ${params.mergeByKey ? 'merged by primary key' : 'appended'}`;
}

async function details(flow) {
  const [source, target] = await Promise.all([
    api.one(`${api.FLOW}/sourceConnections/${encodeURIComponent(flow.sourceConnectionIds[0])}`).catch(() => null),
    api.one(`${api.FLOW}/targetConnections/${encodeURIComponent(flow.targetConnectionIds[0])}`).catch(() => null),
  ]);
  const copy = (flow.transformations || []).find((t) => /^copy$/i.test(t.name));
  const mapping = (flow.transformations || []).find((t) => /^mapping$/i.test(t.name));
  const dataSetId = target && target.params.dataSetId;
  const rows = [
    ['Schedule', schedule(flow.scheduleParams)],
    ['Source table', source ? source.params.tableName : '—'],
    ['Columns', source && source.params.columns ? source.params.columns.map((c) => c.name).join(', ') : 'all'],
    ['Dataset', dataSetId ? h('a', {href: `#/datasets/${encodeURIComponent(dataSetId)}`}, dataSetId) : '—'],
    ['How runs copy', copying(source, copy)],
    ['Schema changes', (copy && copy.params && copy.params.schemaChangePolicy) || 'propagate'],
    ['Mapping', mapping ? `${mapping.params.mappingId} (version ${mapping.params.mappingVersion})` : 'none'],
    ['Created', time(flow.createdAt)],
  ];
  return h('dl', {class: 'summary'}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export async function render(view, ctx) {
  const id = ctx.params[0];
  const flow = await api.one(`${api.FLOW}/flows/${encodeURIComponent(id)}`);
  ctx.title(flow.name);
  const out = h('div', {'aria-live': 'polite'});
  const done = (message) => { ctx.flash('ok', message); ctx.go(`#/flows/${encodeURIComponent(id)}`); };
  const gone = (message) => { ctx.flash('ok', message); ctx.go('#/flows'); };
  add(view, h('div', {class: 'page-head'}, h('h1', {}, flow.name),
    h('span', {}, badge(flow.state), ' ', toggle(flow, out, done), ' ', deleteButton(flow, out, gone))),
    out, await details(flow));
  const runsBox = h('section', {class: 'runs', 'aria-labelledby': 'runs-title'});
  let timer = null;
  const refresh = async () => {
    clearTimeout(timer);
    if (!ctx.alive()) return;
    let runs;
    try {
      runs = await runsOf(id);
    } catch (error) {
      fill(runsBox, h('h2', {id: 'runs-title'}, 'Runs'), notice('error', `Could not read the runs: ${error.message}`));
      return;
    }
    const live = runs.some((r) => LIVE.includes(status(r)));
    const chart = runChart(runs);
    fill(runsBox, h('h2', {id: 'runs-title'}, 'Runs ', live ? h('span', {class: 'live'}, '● live') : null),
      runs.length
        ? table('Runs of this dataflow, newest first', ['Status', 'Window', 'Started', 'Duration', 'Rows', 'Bytes', 'Errors', ''],
          runs.map((r) => runRow(r, out, refresh)), {class: 'runs-table'})
        : h('p', {class: 'empty'}, flow.state === 'enabled' ? 'No run yet: the first one starts at the scheduled time.' : 'No run yet, and the flow is disabled.'),
      chart ? h('figure', {}, chart, h('figcaption', {}, 'Rows written per run (bars, left axis) and its duration (line, right axis).')) : null);
    // Poll fast while a run is scheduled or moving, slowly otherwise.
    timer = setTimeout(refresh, live || !runs.length ? 1500 : 10000);
  };
  ctx.onLeave(() => clearTimeout(timer));
  add(view, pausePanel(flow, () => ctx.go(`#/flows/${encodeURIComponent(id)}`)), runsBox);
  if (flow.scheduleParams && flow.scheduleParams.frequency === 'once') add(view, runNow(flow, refresh));
  add(view, editForm(flow, done), alertTargets(flow));
  await refresh();
}
