// Labelled form fields, and API errors shown next to the field they name.

import {h, fill, uid, notice} from './dom.js';

/**
 * A labelled field around `input` (an input, select or textarea, or a group of them with
 * `group: true`). Answers `{node, input, showError(message), clearError()}`.
 */
export function field({label, input, help, required = false, group = false, extra = null}) {
  const id = input.id || uid('field');
  input.id = id;
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const error = h('p', {class: 'field-error', id: errorId, hidden: true});
  const described = help ? `${helpId} ${errorId}` : errorId;
  input.setAttribute('aria-describedby', described);
  if (required && !group) input.required = true;
  const mark = required ? h('span', {class: 'required', 'aria-hidden': 'true'}, ' *') : null;
  const title = group
    ? h('legend', {}, label, mark)
    : h('label', {for: id}, label, mark);
  const node = h(group ? 'fieldset' : 'div', {class: 'field'},
    title, input, extra,
    help ? h('p', {class: 'help', id: helpId}, help) : null,
    error);
  return {
    node,
    input,
    showError(message) {
      fill(error, message);
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
    },
    clearError() {
      error.hidden = true;
      fill(error);
      input.removeAttribute('aria-invalid');
    },
  };
}

/**
 * Where a form shows the API's refusals: registered fields by JSON path (as the API's
 * `report.details` name them), and a summary for what names no field.
 */
export class Errors {
  constructor() {
    this.fields = new Map();
    this.summary = h('div', {class: 'form-errors'});
  }

  /** Shows errors naming `path` (or a path below it) at `fieldObject`. */
  register(path, fieldObject) {
    this.fields.set(path, fieldObject);
    return fieldObject;
  }

  /** Forgets the fields registered under `prefix` (their form part was redrawn). */
  forget(prefix) {
    for (const path of [...this.fields.keys()]) if (path.startsWith(prefix)) this.fields.delete(path);
  }

  clear() {
    for (const f of this.fields.values()) f.clearError();
    fill(this.summary);
  }

  /**
   * Shows `error` (an ApiError or Error) beside the fields its details name. `byCode`
   * maps a code's number to a field path, for errors that carry no details. Focuses the
   * first field shown.
   */
  show(error, byCode = {}) {
    this.clear();
    const listed = error.details && error.details.length ? error.details : null;
    const details = listed || [{path: byCode[error.number] || '', message: error.message}];
    const placed = [];
    const unplaced = [];
    for (const detail of details) {
      const target = this.find(detail.path);
      if (target) {
        target.showError(detail.message);
        placed.push(target);
      } else {
        unplaced.push(detail);
      }
    }
    const title = error.code ? `${error.message} (${error.code})` : error.message;
    if (unplaced.length) {
      const list = listed ? h('ul', {}, unplaced.map((d) => h('li', {}, `${d.path}: ${d.message}`))) : null;
      fill(this.summary, notice('error', title, list));
    } else {
      const which = placed.length === 1 ? 'a field: see the message beside it' : `${placed.length} fields: see the messages beside them`;
      fill(this.summary, notice('error', `The API refused ${which}.`));
    }
    if (placed.length) placed[0].input.focus();
    else this.summary.scrollIntoView({block: 'nearest'});
  }

  find(path) {
    if (!path) return null;
    let best = null;
    for (const [registered, f] of this.fields) {
      if ((path === registered || path.startsWith(`${registered}/`)) && (!best || registered.length > best[0].length)) {
        best = [registered, f];
      }
    }
    return best && best[1];
  }
}

/** A text input. */
export function textInput(attrs = {}) {
  return h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs});
}

/** A select of `[value, label]` options. */
export function select(options, selected, attrs = {}) {
  return h('select', attrs, options.map(([value, label]) =>
    h('option', {value, selected: value === selected}, label)));
}
