// The wizard's five steps. Each `render(state, ui)` answers `{node, collect}`: `collect`
// copies the inputs into `state`. Errors in `state.errors`, by key, show beside fields.

import {h, add} from '../dom.js';
import {field, textInput, select} from '../form.js';
import * as api from '../api.js';
import {tablesBySchema, describe, splitPath, xdmType, isTimestamp} from './explore.js';
import {time} from '../format.js';

const STEP_OF_KEY = {connection: 0, table: 0, columns: 0, cdc: 0, datasetName: 1, datasetId: 1, mapping: 2,
  frequency: 3, interval: 3, startTime: 3, backfill: 3, deltaColumn: 3, mergeByKey: 3, schemaChangePolicy: 3, name: 4};

/** Whether the chosen connection reads PostgreSQL, the only source with a change log. */
export function capturable(state) {
  const connection = state.connections.find((c) => c.id === state.connectionId);
  return Boolean(connection && connection.connectionSpec && connection.connectionSpec.id === api.SPECS.postgres);
}

/** The step that holds the field named by `key` (mapping rows are `mapping.<i>.<part>`). */
export function stepOf(key) {
  return STEP_OF_KEY[key.split('.')[0]] ?? 4;
}

function withError(state, key, f) {
  if (state.errors[key]) f.showError(state.errors[key]);
  return f;
}

function buttons(ui, {back = true, next = 'Next'} = {}) {
  return h('div', {class: 'actions wizard-nav'},
    back ? h('button', {type: 'button', on: {click: ui.back}}, 'Back') : null,
    next ? h('button', {type: 'button', class: 'primary', on: {click: ui.next}}, next) : null);
}

async function source(state, ui) {
  state.tables = state.tables || {};
  if (!state.tables[state.connectionId]) state.tables[state.connectionId] = await tablesBySchema(state.connectionId);
  const schemas = state.tables[state.connectionId];
  if (state.tablePath && !state.columns.length) {
    state.columns = (await describe(state.connectionId, state.tablePath)).schema.columns;
    state.chosen = new Set(state.columns.map((c) => c.name));
  }
  const connection = withError(state, 'connection', field({label: 'Connection', required: true,
    input: select(state.connections.map((c) => [c.id, c.name]), state.connectionId)}));
  connection.input.addEventListener('change', () => {
    Object.assign(state, {connectionId: connection.input.value, tablePath: '', columns: [], chosen: new Set()});
    ui.redraw();
  });
  const tableSelect = h('select', {}, h('option', {value: ''}, 'Choose a table…'),
    [...schemas].map(([schema, entries]) => h('optgroup', {label: schema},
      entries.map((e) => h('option', {value: e.path, selected: e.path === state.tablePath}, e.path)))));
  const tableField = withError(state, 'table', field({label: 'Table or view', required: true, input: tableSelect}));
  tableSelect.addEventListener('change', () => {
    Object.assign(state, {tablePath: tableSelect.value, columns: [], chosen: new Set()});
    ui.redraw();
  });
  const boxes = state.columns.map((c) => h('label', {class: 'choice'},
    h('input', {type: 'checkbox', value: c.name, checked: state.chosen.has(c.name)}), ' ', h('code', {}, c.name), ` ${c.type}`));
  const group = h('div', {class: 'checks'}, boxes);
  const columns = withError(state, 'columns', field({label: 'Columns to copy', group: true, input: group,
    help: 'The dataset gets exactly these columns. All are chosen at first.'}));
  if (!capturable(state)) state.cdc = false;
  const cdcBox = h('input', {type: 'checkbox', checked: state.cdc});
  const cdc = withError(state, 'cdc', field({label: 'How runs copy', group: true,
    input: h('label', {class: 'choice'}, cdcBox, ' Change data capture: keep the dataset equal to the table (inserts, updates and deletes, read from the write-ahead log)'),
    help: 'Needs wal_level = logical, the replication right and a primary key at the source (see docs/cdc.md). Such a flow takes no delta column and no mapping.'}));
  const collect = () => {
    state.chosen = new Set([...group.querySelectorAll('input:checked')].map((b) => b.value));
    state.cdc = capturable(state) && cdcBox.checked;
  };
  return {node: h('div', {}, connection.node, tableField.node, state.columns.length ? columns.node : null,
    capturable(state) && state.tablePath ? cdc.node : null, buttons(ui, {back: false})), collect};
}

async function dataset(state, ui) {
  const d = state.dataset;
  if (!d.name && state.tablePath) d.name = splitPath(state.tablePath)[1];
  state.datasetList = state.datasetList || api.keyed(await api.call(`${api.CATALOG}/dataSets?limit=100`));
  const mode = (value, label) => h('label', {class: 'choice'},
    h('input', {type: 'radio', name: 'dataset-mode', value, checked: d.mode === value, on: {change: () => { collect(); d.mode = value; ui.redraw(); }}}), ' ', label);
  const name = withError(state, 'datasetName', field({label: 'Dataset name', required: true, input: textInput({value: d.name})}));
  const description = field({label: 'Description', input: textInput({value: d.description})});
  const existing = withError(state, 'datasetId', field({label: 'Dataset', required: true,
    input: select([['', 'Choose a dataset…'], ...state.datasetList.map((s) => [s.id, `${s.name} (${s.id})`])], d.existingId)}));
  const collect = () => {
    if (d.mode === 'new') Object.assign(d, {name: name.input.value.trim(), description: description.input.value.trim()});
    else d.existingId = existing.input.value;
  };
  const choice = h('fieldset', {}, h('legend', {}, 'Write into'), mode('new', 'a new dataset'),
    mode('existing', `an existing dataset (${state.datasetList.length})`));
  const fields = d.mode === 'new' ? [name.node, description.node] : [existing.node];
  return {node: h('div', {}, choice, fields, buttons(ui)), collect};
}

function mappingRow(state, row, index, ui, collect) {
  const kind = select([['column', 'Column'], ['constant', 'Constant']], row.kind, {'aria-label': `Mapping ${index + 1}: kind`});
  kind.addEventListener('change', () => { collect(); row.kind = kind.value; row.source = ''; ui.redraw(); });
  const source = row.kind === 'column'
    ? select([...state.chosen].map((c) => [c, c]), row.source)
    : textInput({value: row.source, placeholder: 'a constant value'});
  const destination = withError(state, `mapping.${index}.destination`, field({label: `Destination ${index + 1}`,
    input: textInput({value: row.destination, placeholder: 'e.g. order.id'})}));
  const sourceErr = withError(state, `mapping.${index}.source`, field({label: `Source ${index + 1}`, input: source}));
  const remove = h('button', {type: 'button', class: 'link', on: {click: () => { collect(); state.mapping.rows.splice(index, 1); ui.redraw(); }}},
    `Remove mapping ${index + 1}`);
  return h('div', {class: 'mapping-row', 'data-row': index}, kind, sourceErr.node, destination.node, remove);
}

async function mapping(state, ui) {
  const m = state.mapping;
  if (state.cdc) {
    m.enabled = false;
    return {node: h('div', {}, h('p', {class: 'help'},
      'A change data capture flow takes no mapping: the dataset gets the chosen columns under their own names.'), buttons(ui)), collect: () => {}};
  }
  const enabled = h('input', {type: 'checkbox', checked: m.enabled});
  const rows = () => m.rows.map((row, i) => mappingRow(state, row, i, ui, collect));
  const list = h('div', {class: 'mapping-rows'});
  const collect = () => {
    m.enabled = enabled.checked;
    list.querySelectorAll('.mapping-row').forEach((node, i) => {
      const [kind, source, destination] = node.querySelectorAll('select, input');
      Object.assign(m.rows[i], {kind: kind.value, source: source.value, destination: destination.value.trim()});
    });
  };
  enabled.addEventListener('change', () => {
    collect();
    if (m.enabled && !m.rows.length) m.rows = [...state.chosen].map((c) => ({kind: 'column', source: c, destination: c}));
    ui.redraw();
  });
  const addRow = h('button', {type: 'button', on: {click: () => { collect(); m.rows.push({kind: 'column', source: [...state.chosen][0] || '', destination: ''}); ui.redraw(); }}}, 'Add a mapping');
  const error = state.errors.mapping ? h('p', {class: 'field-error', role: 'alert'}, state.errors.mapping) : null;
  if (m.enabled) add(list, ...rows(), addRow);
  return {node: h('div', {},
    h('label', {class: 'choice'}, enabled, ' Map columns to other names, nest them (a.b), or add constants'),
    h('p', {class: 'help'}, 'Without a mapping the dataset gets the chosen columns under their own names.'),
    error, list, buttons(ui)), collect};
}

async function schedule(state, ui) {
  const s = state.schedule;
  const frequency = withError(state, 'frequency', field({label: 'Frequency', required: true,
    input: select([['once', 'Once'], ['minute', 'Every few minutes'], ['hour', 'Hourly'], ['day', 'Daily'], ['week', 'Weekly']], s.frequency)}));
  frequency.input.addEventListener('change', () => { collect(); ui.redraw(); });
  const periodic = s.frequency !== 'once';
  const interval = withError(state, 'interval', field({label: `Interval (${s.frequency}s between runs)`, required: true,
    input: textInput({value: s.interval, inputmode: 'numeric'})}));
  const startAt = h('input', {type: 'datetime-local', value: s.startAt, 'aria-label': 'Start at'});
  const startGroup = h('div', {},
    h('label', {class: 'choice'}, h('input', {type: 'radio', name: 'start', value: 'now', checked: s.startMode === 'now'}), ' Now'),
    h('label', {class: 'choice'}, h('input', {type: 'radio', name: 'start', value: 'at', checked: s.startMode === 'at'}), ' At ', startAt));
  const offset = -new Date().getTimezoneOffset();
  const zone = `UTC${offset >= 0 ? '+' : '−'}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
  const start = withError(state, 'startTime', field({label: 'Start', group: true, input: startGroup, help: `Times are in this browser's zone (${zone}).`}));
  const backfill = h('input', {type: 'checkbox', checked: s.backfill});
  const backfillField = withError(state, 'backfill', field({label: 'Backfill', group: true,
    input: h('label', {class: 'choice'}, backfill, ' Copy the rows from before the start too (the first window opens at the beginning)')}));
  const stamps = state.columns.filter(isTimestamp);
  const delta = withError(state, 'deltaColumn', field({label: 'Delta column', input: select(
    [['', 'None: copy the whole table on every run'], ...stamps.map((c) => [c.name, `${c.name} (${xdmType(c)})`])], s.deltaColumn),
  help: 'With a delta column each run copies only the rows whose value falls in its window. Only timestamp and date columns can be chosen.'}));
  const merge = h('input', {type: 'checkbox', checked: s.mergeByKey});
  const mergeField = withError(state, 'mergeByKey', field({label: 'Updated rows', group: true,
    input: h('label', {class: 'choice'}, merge, ' Merge rows by primary key: a row copied again replaces its earlier copy instead of being appended'),
    help: 'The table needs a primary key; deletes are not seen (change data capture sees them).'}));
  const policy = withError(state, 'schemaChangePolicy', field({label: 'When the source\'s columns change', input: select([
    ['propagate', 'Propagate: the dataset follows (columns added, widened)'],
    ['pause', 'Pause the flow and ask'],
    ['ignore', 'Ignore added columns']], s.schemaChangePolicy),
  help: 'A change the dataset cannot follow (a narrowed type) pauses the flow whatever is chosen.'}));
  const withDelta = periodic && !state.cdc;
  // Merging is only offered beside a delta column: shown while one is chosen.
  mergeField.node.hidden = !s.deltaColumn;
  delta.input.addEventListener('change', () => { mergeField.node.hidden = !delta.input.value; });
  const collect = () => {
    s.frequency = frequency.input.value;
    s.startMode = startGroup.querySelector('input[name=start]:checked').value;
    s.startAt = startAt.value;
    s.schemaChangePolicy = policy.input.value;
    if (periodic) Object.assign(s, {interval: interval.input.value.trim(), backfill: backfill.checked});
    if (withDelta) Object.assign(s, {deltaColumn: delta.input.value, mergeByKey: Boolean(delta.input.value) && merge.checked});
  };
  return {node: h('div', {}, frequency.node, periodic ? interval.node : null, start.node,
    periodic ? backfillField.node : null, withDelta ? [delta.node, mergeField.node] : null,
    policy.node, buttons(ui)), collect};
}

async function review(state, ui) {
  const table = state.tablePath;
  const datasetName = state.dataset.mode === 'new' ? state.dataset.name
    : (state.datasetList.find((d) => d.id === state.dataset.existingId) || {}).name;
  // The default name follows the table and dataset until the user types another.
  const auto = `${table} to ${datasetName}`;
  if (!state.name || state.name === state.autoName) state.name = auto;
  state.autoName = auto;
  const name = withError(state, 'name', field({label: 'Dataflow name', required: true, input: textInput({value: state.name})}));
  const s = state.schedule;
  const when = s.startMode === 'now' ? 'now' : time(Date.parse(s.startAt));
  const rows = [
    ['Connection', (state.connections.find((c) => c.id === state.connectionId) || {}).name],
    ['Table', table],
    ['Columns', [...state.chosen].join(', ')],
    ['Dataset', state.dataset.mode === 'new' ? `new: ${datasetName}` : `${datasetName} (${state.dataset.existingId})`],
    ['Mapping', state.mapping.enabled ? state.mapping.rows.map((r) => `${r.kind === 'column' ? r.source : JSON.stringify(r.source)} → ${r.destination}`).join('; ') : 'none'],
    ['Schedule', s.frequency === 'once' ? `once, starting ${when}` : `every ${s.interval} ${s.frequency}(s), starting ${when}${s.backfill ? ', with backfill' : ''}`],
    state.cdc
      ? ['Change data capture', 'yes: each run merges the changes since the previous one']
      : ['Delta column', s.frequency !== 'once' && s.deltaColumn
        ? `${s.deltaColumn}${s.mergeByKey ? ', rows merged by primary key' : ''}` : 'none (each run copies the whole table)'],
    ['Schema changes', s.schemaChangePolicy],
  ];
  const collect = () => { state.name = name.input.value.trim(); };
  const createButton = h('button', {type: 'button', class: 'primary', on: {click: async () => { createButton.disabled = true; await ui.create(); }}}, 'Create dataflow');
  return {node: h('div', {}, name.node,
    h('dl', {class: 'summary'}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v || '—')])),
    h('div', {class: 'actions wizard-nav'}, h('button', {type: 'button', on: {click: ui.back}}, 'Back'), createButton)), collect};
}

const required = (ok, key, message) => (ok ? {} : {[key]: message});

/** The steps in order, with the choices each needs before the next. */
export const STEPS = [
  {title: 'Source', render: source, check: (s) => ({...required(s.tablePath, 'table', 'Choose the table to copy.'),
    ...required(!s.tablePath || s.chosen.size, 'columns', 'Choose at least one column.')})},
  {title: 'Dataset', render: dataset, check: (s) => (s.dataset.mode === 'new'
    ? required(s.dataset.name, 'datasetName', 'Name the new dataset.')
    : required(s.dataset.existingId, 'datasetId', 'Choose a dataset.'))},
  {title: 'Mapping', render: mapping},
  {title: 'Schedule', render: schedule, check: (s) => required(s.schedule.startMode === 'now' || s.schedule.startAt, 'startTime', 'Choose the start time, or start now.')},
  {title: 'Review', render: review},
];
