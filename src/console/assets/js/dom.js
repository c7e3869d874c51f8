// Builds DOM nodes from data. Every value reaches the page as text (never parsed as HTML),
// so nothing a database or the API returns can run as script.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'on') {
      for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    } else if (key === 'value' || key === 'checked' || key === 'selected' || key === 'disabled') {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: `h('button', {class: 'primary', on: {click}}, 'Save')`. */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  apply(node, attrs);
  append(node, children);
  return node;
}

/** An SVG element, with presentation attributes (the CSP allows no inline styles). */
export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  apply(node, attrs);
  append(node, children);
  return node;
}

/** Appends children (text, nodes, arrays; null and false skipped) to `node`. */
export function add(node, ...children) {
  append(node, children);
  return node;
}

/** Replaces the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

let ids = 0;
/** A fresh element id with a readable prefix. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A message box: `kind` is `error`, `ok` or `info`; errors are announced at once. */
export function notice(kind, ...children) {
  const role = kind === 'error' ? 'alert' : 'status';
  return h('div', {class: `notice ${kind}`, role}, ...children);
}

/** A table with a header row; `rows` are arrays of cells (text or nodes). */
export function table(caption, headers, rows, attrs = {}) {
  return h('div', {class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption},
    h('table', attrs,
      h('caption', {class: 'visually-hidden'}, caption),
      h('thead', {}, h('tr', {}, headers.map((name) => h('th', {scope: 'col'}, name)))),
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell) => h('td', {}, cell)))))));
}

/** A button that asks "sure?" in place before it runs `action`. */
export function confirmButton(label, question, action) {
  const wrap = h('span', {class: 'confirm'});
  const ask = h('button', {type: 'button', class: 'danger', on: {click: () => {
    const yes = h('button', {type: 'button', class: 'danger', on: {click: () => action()}}, `Yes, ${label.toLowerCase()}`);
    const no = h('button', {type: 'button', on: {click: () => { fill(wrap, ask); ask.focus(); }}}, 'Cancel');
    fill(wrap, h('span', {}, question), ' ', yes, ' ', no);
    yes.focus();
  }}}, label);
  return fill(wrap, ask);
}
