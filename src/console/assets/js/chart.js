// A chart of a flow's runs over time: rows written (bars, left axis) and duration (line,
// right axis), drawn as SVG elements with presentation attributes (no inline styles).

import {svg} from './dom.js';
import {time, count, runDuration} from './format.js';

const W = 720;
const H = 240;
const M = {top: 16, right: 56, bottom: 40, left: 64};

function nice(max) {
  if (max <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  return Math.ceil(max / step) * step;
}

/** The chart of the runs that started, oldest first; null when none has. */
export function runChart(runs) {
  const started = runs
    .filter((r) => r.metrics && r.metrics.durationSummary && r.metrics.durationSummary.startedAtUTC)
    .sort((a, b) => a.metrics.durationSummary.startedAtUTC - b.metrics.durationSummary.startedAtUTC);
  if (!started.length) return null;
  const rows = started.map((r) => Number(r.metrics.recordSummary.outputRecordCount || 0));
  const secs = started.map((r) => (runDuration(r) || 0) / 1000);
  const maxRows = nice(Math.max(...rows));
  const maxSecs = nice(Math.max(...secs));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const slot = plotW / started.length;
  const x = (i) => M.left + slot * i + slot / 2;
  const yRows = (v) => M.top + plotH - (v / maxRows) * plotH;
  const ySecs = (v) => M.top + plotH - (v / maxSecs) * plotH;
  const bars = started.map((r, i) => svg('rect', {class: 'bar', x: x(i) - Math.min(slot * 0.35, 24), y: yRows(rows[i]),
    width: Math.min(slot * 0.7, 48), height: Math.max(M.top + plotH - yRows(rows[i]), 0)},
  svg('title', {}, `${time(r.metrics.durationSummary.startedAtUTC)}: ${count(rows[i])} rows, ${secs[i].toFixed(1)} s`)));
  const points = started.map((_, i) => `${x(i)},${ySecs(secs[i])}`).join(' ');
  const summary = `${started.length} runs from ${time(started[0].metrics.durationSummary.startedAtUTC)}: ` +
    `up to ${count(Math.max(...rows))} rows and ${Math.max(...secs).toFixed(1)} s per run.`;
  return svg('svg', {class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Rows and duration per run. ${summary}`},
    svg('title', {}, 'Rows written (bars) and duration (line) per run'),
    svg('line', {class: 'axis', x1: M.left, y1: M.top + plotH, x2: W - M.right, y2: M.top + plotH}),
    svg('line', {class: 'axis', x1: M.left, y1: M.top, x2: M.left, y2: M.top + plotH}),
    svg('line', {class: 'axis', x1: W - M.right, y1: M.top, x2: W - M.right, y2: M.top + plotH}),
    svg('text', {class: 'label rows', x: M.left - 6, y: M.top + 4, 'text-anchor': 'end'}, count(maxRows)),
    svg('text', {class: 'label rows', x: M.left - 6, y: M.top + plotH, 'text-anchor': 'end'}, '0'),
    svg('text', {class: 'label rows', x: 4, y: M.top + plotH / 2}, 'rows'),
    svg('text', {class: 'label secs', x: W - M.right + 6, y: M.top + 4}, `${maxSecs} s`),
    svg('text', {class: 'label secs', x: W - M.right + 6, y: M.top + plotH}, '0 s'),
    svg('text', {class: 'label', x: M.left, y: H - 12}, time(started[0].metrics.durationSummary.startedAtUTC)),
    started.length > 1 ? svg('text', {class: 'label', x: W - M.right, y: H - 12, 'text-anchor': 'end'},
      time(started[started.length - 1].metrics.durationSummary.startedAtUTC)) : null,
    bars,
    svg('polyline', {class: 'line', points, fill: 'none'}),
    started.map((_, i) => svg('circle', {class: 'dot', cx: x(i), cy: ySecs(secs[i]), r: 4})));
}
