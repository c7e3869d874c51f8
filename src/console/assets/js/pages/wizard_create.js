// Creates what a dataflow needs, in order: the dataset (when new), the source connection,
// the target connection, the mapping set (when mapping), the flow. When the API refuses a
// step, what this attempt created is deleted again and the refusal is named by the
// wizard's field key, so the wizard shows it on the right step.

import * as api from '../api.js';

/** A refusal tied to a wizard field (`key`), or to none. */
class WizardError extends Error {
  constructor(key, message) {
    super(message);
    this.key = key;
  }
}

const FLOW_CODES = {1360: 'startTime', 1365: 'startTime', 1361: 'interval', 1362: 'interval', 1363: 'frequency',
  1364: 'backfill', 1367: 'backfill', 1369: 'deltaColumn', 1308: 'datasetId'};

/** The wizard field a refusal of `stage` names: by detail path, else by code. */
function keyOf(stage, error) {
  const path = (error.details && error.details[0] && error.details[0].path) || '';
  const mapped = path.match(/^\/mappings\/(\d+)\/(source|destination)/);
  if (mapped) return `mapping.${mapped[1]}.${mapped[2]}`;
  if (stage === 'dataset') return 'datasetName';
  if (stage === 'source') {
    if (path.startsWith('/params/cdcEnabled') || /cdcEnabled/.test(error.message)) return 'cdc';
    return path.startsWith('/params/columns') || /columns/.test(error.message) ? 'columns' : 'table';
  }
  if (stage === 'target') return 'datasetId';
  if (stage === 'mapping') return 'mapping';
  const param = path.match(/^\/scheduleParams\/(\w+)/);
  if (param) return param[1];
  if (path === '/name') return 'name';
  const copyParam = path.match(/^\/transformations\/\d+\/params\/(deltaColumn|mergeByKey|schemaChangePolicy)/);
  if (copyParam) return copyParam[1];
  if (path.startsWith('/transformations')) {
    if (/mergeByKey/.test(message(error))) return 'mergeByKey';
    if (/change data capture/.test(message(error))) return 'cdc';
    return 'mapping';
  }
  if (error.number === '1331') return /delta/i.test(error.message) ? 'deltaColumn' : 'mapping';
  return FLOW_CODES[error.number] || null;
}

function message(error) {
  const detail = error.details && error.details[0];
  const text = detail ? `${detail.path}: ${detail.message}` : error.message;
  return error.code ? `${text} (${error.code})` : text;
}

function body(state, parts) {
  const s = state.schedule;
  const start = s.startMode === 'now' ? Math.floor(Date.now() / 1000) : Math.floor(Date.parse(s.startAt) / 1000);
  const scheduleParams = {startTime: String(start), frequency: s.frequency};
  const transformations = [];
  // Copy's params: the delta column (with mergeByKey beside it) and the schema change
  // policy, sent only when not the default so a plain flow stays plain.
  const copy = {};
  if (s.frequency !== 'once') {
    Object.assign(scheduleParams, {interval: s.interval, backfill: String(s.backfill)});
    if (s.deltaColumn && !state.cdc) {
      copy.deltaColumn = {name: s.deltaColumn, timezone: 'UTC'};
      if (s.mergeByKey) copy.mergeByKey = true;
    }
  }
  if (s.schemaChangePolicy !== 'propagate') copy.schemaChangePolicy = s.schemaChangePolicy;
  if (Object.keys(copy).length) transformations.push({name: 'Copy', params: copy});
  if (parts.mappingId) transformations.push({name: 'Mapping', params: {mappingId: parts.mappingId, mappingVersion: 0}});
  return {name: state.name, flowSpec: {id: api.SPECS.flow, version: '1.0'},
    sourceConnectionIds: [parts.source], targetConnectionIds: [parts.target], transformations, scheduleParams};
}

/** Creates the dataflow from the wizard's state; answers the flow id. */
export async function create(state) {
  const made = [];
  // POSTs one part; `keep` records how to delete it and answers its id.
  const step = async (stage, path, options, keep) => {
    try {
      return keep(await api.call(path, {method: 'POST', ...options}));
    } catch (error) {
      for (const del of made.reverse()) await api.call(del, {method: 'DELETE'}).catch(() => {});
      throw new WizardError(keyOf(stage, error), message(error));
    }
  };
  const connection = state.connections.find((c) => c.id === state.connectionId);
  let dataSetId = state.dataset.existingId;
  if (state.dataset.mode === 'new') {
    const d = state.dataset;
    dataSetId = await step('dataset', `${api.CATALOG}/dataSets`, {body: {name: d.name, description: d.description}}, (answer) => {
      const id = String(answer[0]).replace('@/dataSets/', '');
      made.push(`${api.CATALOG}/dataSets/${id}`);
      return id;
    });
  }
  const all = state.chosen.size === state.columns.length;
  const columns = state.columns.filter((c) => state.chosen.has(c.name)).map((c) => ({name: c.name, type: c.type}));
  const tracked = (kind) => (answer) => { made.push(`${api.FLOW}/${kind}/${answer.id}`); return answer.id; };
  const source = await step('source', `${api.FLOW}/sourceConnections`, {body: {
    name: `${state.tablePath} (${state.name})`, baseConnectionId: connection.id, data: {format: 'tabular'},
    params: {tableName: state.tablePath, ...(all ? {} : {columns}), ...(state.cdc ? {cdcEnabled: true} : {})},
    connectionSpec: {id: connection.connectionSpec.id, version: '1.0'}}}, tracked('sourceConnections'));
  const target = await step('target', `${api.FLOW}/targetConnections`, {body: {
    name: `dataset ${dataSetId} (${state.name})`, data: {format: 'delta'}, params: {dataSetId},
    connectionSpec: {id: api.SPECS.datalake, version: '1.0'}}}, tracked('targetConnections'));
  let mappingId = null;
  if (state.mapping.enabled && !state.cdc) {
    const mappings = state.mapping.rows.map((r) => (r.kind === 'column'
      ? {sourceType: 'ATTRIBUTE', source: r.source, destination: r.destination}
      : {sourceType: 'STATIC', source: r.source, destination: r.destination}));
    mappingId = await step('mapping', `${api.CONVERSION}/mappingSets`, {body: {outputSchema: {}, mappings}}, (answer) => {
      made.push(`${api.CONVERSION}/mappingSets/${answer.id}`);
      return answer.id;
    });
  }
  return step('flow', `${api.FLOW}/flows`, {body: body(state, {source, target, mappingId})}, (answer) => answer.id);
}
