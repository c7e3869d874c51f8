// How numbers, sizes, times and statuses read on the page.

import {h} from './dom.js';

/** Epoch milliseconds (or seconds, when `seconds`) as a local date and time. */
export function time(value, seconds = false) {
  if (value === null || value === undefined || value === '') return '—';
  const ms = Number(value) * (seconds ? 1000 : 1);
  if (!Number.isFinite(ms)) return String(value);
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** An RFC 3339 instant (a run window bound) as a local time; open bounds read as such. */
export function instant(text, open) {
  if (!text) return open;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? time(ms) : text;
}

/** A count with thousands separators. */
export function count(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US');
}

/** Bytes as B, KiB, MiB, GiB. */
export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A duration in milliseconds, e.g. `1.2 s`, `3 min 4 s`. */
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60000);
  return `${minutes} min ${Math.round((ms % 60000) / 1000)} s`;
}

/** A status word as a badge (`success`, `failed`, `inProgress`, `enabled`, ...). */
export function badge(status) {
  const word = status || 'unknown';
  return h('span', {class: `badge badge-${word}`}, word);
}

/** A flow's schedule in words. */
export function schedule(params) {
  if (!params) return '—';
  const start = time(params.startTime, true);
  if (params.frequency === 'once') return `once, at ${start}`;
  const n = Number(params.interval || 1);
  const unit = n === 1 ? params.frequency : `${params.frequency}s`;
  const backfill = String(params.backfill) === 'true' ? ', with backfill' : '';
  return `every ${n} ${unit} from ${start}${backfill}`;
}

/** A run's start-to-end time in milliseconds, or null while it has not ended. */
export function runDuration(run) {
  const d = run.metrics && run.metrics.durationSummary;
  if (!d || !d.startedAtUTC) return null;
  const end = d.completedAtUTC || null;
  return end ? end - d.startedAtUTC : null;
}

/** A preview cell's value as text: null, numbers, strings, nested values as JSON. */
export function value(v) {
  if (v === null || v === undefined) return h('span', {class: 'null'}, 'null');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
