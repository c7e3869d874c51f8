// `#/datasets/<id>`: a dataset's schema, batches, its Delta table's versions and
// location, the code that reads it with DuckDB, Polars or Spark, and deleting it.

import {h, add, fill, table, notice, confirmButton} from '../dom.js';
import * as api from '../api.js';
import {time, count, bytes, badge} from '../format.js';

/** The observable schema's columns as `[dotted name, type]`, structs flattened. */
function columns(schema, prefix = '') {
  return Object.entries((schema && schema.properties) || {}).flatMap(([name, prop]) =>
    (prop.type === 'object' && prop.properties
      ? columns(prop, `${prefix}${name}.`)
      : [[`${prefix}${name}`, prop.type === 'array' ? `array of ${(prop.items && prop.items.type) || '?'}` : prop.type]]));
}

/** How to read the table at `location` with each tool, exactly. */
export function snippets(location) {
  const sql = `'${location.replace(/'/g, "''")}'`;
  const py = JSON.stringify(location);
  const s3 = location.startsWith('s3://');
  return [
    ['DuckDB', 'sql', `INSTALL delta;\nLOAD delta;\n${s3 ? 'CREATE SECRET (TYPE s3, PROVIDER credential_chain);\n' : ''}SELECT * FROM delta_scan(${sql});`],
    ['Polars', 'python', `import polars as pl\n\ndf = pl.read_delta(${py})${s3 ? '  # storage_options={...} for S3 credentials' : ''}\nprint(df)`],
    ['Spark', 'python', `# pyspark with the delta-spark package (pip install delta-spark)\nfrom delta import configure_spark_with_delta_pip\nfrom pyspark.sql import SparkSession\n\nbuilder = (SparkSession.builder\n    .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")\n    .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"))\nspark = configure_spark_with_delta_pip(builder).getOrCreate()\ndf = spark.read.format("delta").load(${py})\ndf.show()`],
  ];
}

function snippetBox(location) {
  const tabs = snippets(location);
  const code = h('pre', {class: 'snippet', tabindex: '0'});
  const copyOut = h('span', {'aria-live': 'polite'});
  const buttons = tabs.map(([name], i) => h('button', {type: 'button', role: 'tab', 'aria-selected': i === 0 ? 'true' : 'false',
    on: {click: () => pick(i)}}, name));
  const pick = (i) => {
    buttons.forEach((b, j) => b.setAttribute('aria-selected', j === i ? 'true' : 'false'));
    fill(code, h('code', {'data-tool': tabs[i][0]}, tabs[i][2]));
    fill(copyOut);
  };
  const copy = h('button', {type: 'button', on: {click: async () => {
    try {
      await navigator.clipboard.writeText(code.textContent);
      fill(copyOut, 'Copied.');
    } catch {
      fill(copyOut, 'Select the text and copy it.');
    }
  }}}, 'Copy');
  pick(0);
  return h('section', {}, h('h2', {}, 'Read it'),
    h('div', {class: 'tabs', role: 'tablist', 'aria-label': 'Reader'}, buttons), code, h('div', {class: 'actions'}, copy, ' ', copyOut));
}

/** The table's health and its last maintenance (`inletHealth`, docs/lake.md). */
function health(hl) {
  if (!hl) return null;
  const last = hl.lastMaintenance;
  const c = last && last.compaction;
  const did = !last ? 'none yet' : [
    c ? `compacted ${count(c.filesRemoved)} files into ${count(c.filesAdded)}` : null,
    last.checkpoint !== null && last.checkpoint !== undefined ? `checkpoint at version ${last.checkpoint}` : null,
    last.filesVacuumed ? `vacuumed ${count(last.filesVacuumed)} files` : null,
  ].filter(Boolean).join(', ') + ` (${time(last.at)})`;
  return h('section', {class: 'health'}, h('h2', {}, 'Table health'),
    h('dl', {class: 'summary stats'},
      h('dt', {}, 'Small files'), h('dd', {class: 'small-files'}, `${count(hl.smallFiles)} of ${count(hl.files)}`),
      h('dt', {}, 'Commits since checkpoint'), h('dd', {class: 'log-entries'}, count(hl.logEntriesSinceCheckpoint)),
      h('dt', {}, 'Last maintenance'), h('dd', {class: 'last-maintenance'}, did)));
}

export async function render(view, ctx) {
  const id = ctx.params[0];
  const path = `${api.CATALOG}/dataSets/${encodeURIComponent(id)}`;
  const [answer, lake, batchAnswer] = await Promise.all([
    api.call(path),
    api.call(`${path}/versions`),
    api.call(`${api.CATALOG}/batches?dataSet=${encodeURIComponent(id)}&limit=100&orderBy=desc:created`),
  ]);
  const d = api.keyed(answer)[0];
  const batches = api.keyed(batchAnswer);
  ctx.title(d.name);
  const rows = lake.rows === null || lake.rows === undefined ? 'unknown' : count(lake.rows);
  const out = h('div', {'aria-live': 'polite'});
  const remove = confirmButton('Delete', `Delete the dataset "${d.name}"? Its Delta table's files stay where they are.`, async () => {
    try {
      await api.call(path, {method: 'DELETE'});
      ctx.flash('ok', `Dataset "${d.name}" deleted.`);
      ctx.go('#/datasets');
    } catch (error) {
      // The API refuses a dataset a flow writes into, and says which flow.
      fill(out, notice('error', `Could not delete "${d.name}": ${error.message}`));
    }
  });
  add(view, h('div', {class: 'page-head'}, h('h1', {}, d.name), remove), out, d.description ? h('p', {class: 'lead'}, d.description) : null,
    h('dl', {class: 'summary stats'},
      h('dt', {}, 'Rows'), h('dd', {class: 'row-count'}, rows),
      h('dt', {}, 'Table version'), h('dd', {}, lake.currentVersion === null ? 'no table yet' : String(lake.currentVersion)),
      h('dt', {}, 'Files'), h('dd', {}, `${count(lake.files)} (${bytes(lake.bytes)})`),
      h('dt', {}, 'Location'), h('dd', {}, h('code', {class: 'location'}, lake.location)),
      h('dt', {}, 'Id'), h('dd', {}, h('code', {}, d.id)),
      h('dt', {}, 'Created'), h('dd', {}, time(d.created))));
  add(view, health(d.inletHealth));
  const schema = columns(d.observableSchema);
  add(view, h('h2', {}, 'Schema'), schema.length
    ? table('Schema', ['Column', 'Type'], schema.map(([name, type]) => [h('code', {}, name), type]))
    : h('p', {class: 'empty'}, 'No data yet: the schema appears with the first batch.'));
  add(view, h('h2', {}, 'Delta table versions'), lake.versions.length
    ? table('Delta table versions, newest first', ['Version', 'Committed', 'Operation', 'Rows added', 'Files added / removed', 'Run'],
      lake.versions.map((v) => [String(v.version), time(v.timestamp), v.operation || '—', count(v.rowsAdded),
        `${v.filesAdded} / ${v.filesRemoved}`, v.runId ? h('code', {}, v.runId) : '—']), {class: 'versions'})
    : h('p', {class: 'empty'}, 'No Delta table yet: the first successful run creates it.'));
  add(view, h('h2', {}, 'Batches'), batches.length
    ? table('Batches, newest first', ['Status', 'Records', 'Started', 'Completed', 'Delta version', 'Errors', 'Id'],
      batches.map((b) => [badge(b.status), count(b.metrics && b.metrics.recordCount), time(b.started), time(b.completed),
        b.deltaVersion === null || b.deltaVersion === undefined ? '—' : String(b.deltaVersion),
        (b.errors || []).length ? b.errors.map((e) => `${e.code}: ${e.description}`).join('; ') : '—', h('code', {}, b.id)]))
    : h('p', {class: 'empty'}, 'No batches yet.'));
  add(view, snippetBox(lake.location));
}
