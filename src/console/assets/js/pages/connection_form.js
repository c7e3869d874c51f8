// `#/connections/new` and `#/connections/<id>/edit`: forms drawn from each connection
// spec's auth JSON schema. Stored secrets are never shown and never sent back.

import {h, add, fill, notice} from '../dom.js';
import {field, textInput, Errors} from '../form.js';
import * as api from '../api.js';

const LABELS = {
  server: 'Server', port: 'Port', database: 'Database', username: 'User name', password: 'Password',
  sslMode: 'SSL mode', sslRootCert: 'CA certificates (PEM)', schema: 'Schema', connectionString: 'Connection string',
};
// sslMode takes many spellings; the form offers libpq's six, as the spec documents them.
const SSL_MODES = ['Disable', 'Allow', 'Prefer', 'Require', 'Verify-Ca', 'Verify-Full'];
// The order a person fills them in; properties not listed follow in the schema's order.
const ORDER = ['connectionString', 'server', 'port', 'database', 'schema', 'username', 'password', 'sslMode', 'sslRootCert'];
const rank = (name) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
const SPEC_LABELS = {'postgre-sql': 'PostgreSQL', 'amazon-redshift': 'Amazon Redshift'};

const isSecret = (prop) => prop.format === 'password';
const squash = (v) => String(v).replace(/[\W_]/g, '').toLowerCase();
const canonicalMode = (v) => SSL_MODES.find((m) => squash(m) === squash(v));

/** One field of an auth schema; `stored` is the value read back (secrets read `<secret>`). */
function paramField(name, prop, required, stored, editing) {
  const label = LABELS[name] || name;
  let input;
  let extra = null;
  if (isSecret(prop)) {
    input = h('input', {type: 'password', autocomplete: 'new-password',
      placeholder: editing ? 'Stored. Type a new value to replace it' : ''});
  } else if (name === 'sslMode' || prop.enum) {
    const choices = prop.enum || SSL_MODES;
    const chosen = (stored !== undefined && canonicalMode(stored)) || stored || prop.default;
    input = h('select', {}, choices.map((m) => h('option', {value: m, selected: m === chosen}, m)));
  } else if (name === 'sslRootCert') {
    input = h('textarea', {rows: 4, spellcheck: 'false', placeholder: '-----BEGIN CERTIFICATE-----', value: stored || ''});
    const file = h('input', {type: 'file', accept: '.pem,.crt,.cer,text/plain', 'aria-label': `${label}: load from a file`});
    file.addEventListener('change', async () => {
      if (file.files[0]) input.value = await file.files[0].text();
    });
    extra = h('div', {class: 'file-load'}, 'Or load a file: ', file);
  } else {
    const numeric = name === 'port';
    input = textInput({value: stored === undefined ? '' : String(stored), inputmode: numeric ? 'numeric' : null,
      placeholder: prop.default !== undefined ? `default ${prop.default}` : ''});
  }
  const f = field({label, input, extra, help: prop.description, required: required && !(editing && isSecret(prop))});
  const read = () => {
    const raw = input.value;
    const value = isSecret(prop) ? raw : raw.trim();
    return value === '' ? undefined : value;
  };
  // A stored `Verify Full` is the `Verify-Full` the select shows: not a change.
  const unchanged = (value) => (name === 'sslMode' ? canonicalMode(stored) === value : String(stored) === value);
  return {name, prop, f, read, unchanged, secret: isSecret(prop), stored};
}

/** The fields of `authSpec.spec`, registered with `errors` under `/auth/params/<name>`. */
function paramFields(authSpec, container, errors, stored = {}, editing = false) {
  const schema = authSpec.spec || {};
  const required = new Set(schema.required || []);
  errors.forget('/auth/params');
  const properties = Object.entries(schema.properties || {}).sort(([a], [b]) => rank(a) - rank(b));
  const fields = properties.map(([name, prop]) =>
    paramField(name, prop, required.has(name), stored[name], editing));
  for (const p of fields) errors.register(`/auth/params/${p.name}`, p.f);
  fill(container, schema.description ? h('p', {class: 'help'}, schema.description) : null, fields.map((p) => p.f.node));
  return fields;
}

function radios(name, options, chosen, onChange) {
  return options.map(([value, label]) => {
    const input = h('input', {type: 'radio', name, value, checked: value === chosen});
    input.addEventListener('change', () => onChange(value));
    return h('label', {class: 'choice'}, input, ' ', label);
  });
}

function nameFields(errors, c = {}) {
  const name = errors.register('/name', field({label: 'Name', required: true, input: textInput({value: c.name || ''})}));
  const description = errors.register('/description', field({label: 'Description', input: textInput({value: c.description || ''})}));
  return [name, description];
}

export async function renderNew(view, ctx) {
  ctx.title('New connection');
  add(view, h('h1', {}, 'New connection'));
  const specs = (await api.listAll(`${api.FLOW}/connectionSpecs`)).filter((s) => s.attributes && s.attributes.isSource);
  const errors = new Errors();
  const [name, description] = nameFields(errors);
  const params = h('div', {class: 'params'});
  const authGroup = h('div');
  let spec = specs[0];
  let auth = spec.authSpec[0];
  let fields = [];
  const drawAuth = () => {
    fill(authGroup, h('fieldset', {}, h('legend', {}, 'Authentication'),
      radios('auth', spec.authSpec.map((a) => [a.name, a.name]), auth.name, (chosen) => {
        auth = spec.authSpec.find((a) => a.name === chosen);
        fields = paramFields(auth, params, errors);
      })));
    fields = paramFields(auth, params, errors);
  };
  const specGroup = h('fieldset', {}, h('legend', {}, 'Database'),
    radios('spec', specs.map((s) => [s.id, SPEC_LABELS[s.name] || s.name]), spec.id, (chosen) => {
      spec = specs.find((s) => s.id === chosen);
      auth = spec.authSpec[0];
      drawAuth();
    }));
  drawAuth();
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Create connection');
  const form = h('form', {class: 'card'}, name.node, description.node, specGroup, authGroup, params, errors.summary, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errors.clear();
    const values = {};
    for (const p of fields) if (p.read() !== undefined) values[p.name] = p.read();
    const body = {name: name.input.value.trim(), description: description.input.value.trim(),
      auth: {specName: auth.name, params: values}, connectionSpec: {id: spec.id, version: '1.0'}};
    submit.disabled = true;
    try {
      await api.call(`${api.FLOW}/connections`, {method: 'POST', body});
      for (const p of fields) if (p.secret) p.f.input.value = '';
      ctx.flash('ok', `Connection "${body.name}" created. Test it to check that Inlet can log in.`);
      ctx.go('#/connections');
    } catch (error) {
      errors.show(error, {1415: '/auth/params', 1413: '/name'});
    } finally {
      submit.disabled = false;
    }
  });
  add(view, form);
}

/** JSON Patch operations for what changed; a secret is sent only when a new one is typed. */
function changes(c, name, description, fields) {
  const ops = [];
  if (name !== c.name) ops.push({op: 'replace', path: '/name', value: name});
  if (description !== (c.description || '')) ops.push({op: 'replace', path: '/description', value: description});
  for (const p of fields) {
    const value = p.read();
    const path = `/auth/params/${p.name}`;
    const had = p.stored !== undefined && p.stored !== null;
    if (p.secret) {
      if (value !== undefined) ops.push({op: had ? 'replace' : 'add', path, value});
    } else if (value === undefined) {
      if (had) ops.push({op: 'remove', path});
    } else if (!had || !p.unchanged(value)) {
      ops.push({op: had ? 'replace' : 'add', path, value});
    }
  }
  return ops;
}

export async function renderEdit(view, ctx) {
  ctx.title('Edit connection');
  const id = ctx.params[0];
  const path = `${api.FLOW}/connections/${encodeURIComponent(id)}`;
  const [c, specs] = await Promise.all([api.one(path), api.listAll(`${api.FLOW}/connectionSpecs`)]);
  const spec = specs.find((s) => s.id === c.connectionSpec.id);
  const auth = spec.authSpec.find((a) => a.name === c.auth.specName) || spec.authSpec[0];
  add(view, h('h1', {}, `Edit ${c.name}`),
    h('p', {class: 'lead'}, `${SPEC_LABELS[spec.name] || spec.name} · ${auth.name}. Stored secrets are not shown; leave a secret empty to keep it.`));
  const errors = new Errors();
  const [name, description] = nameFields(errors, c);
  const params = h('div', {class: 'params'});
  const fields = paramFields(auth, params, errors, c.auth.params || {}, true);
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Save changes');
  const form = h('form', {class: 'card'}, name.node, description.node, params, errors.summary, submit,
    ' ', h('a', {class: 'button', href: '#/connections'}, 'Cancel'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errors.clear();
    const ops = changes(c, name.input.value.trim(), description.input.value.trim(), fields);
    if (!ops.length) {
      fill(errors.summary, notice('info', 'Nothing changed.'));
      return;
    }
    submit.disabled = true;
    try {
      await api.call(path, {method: 'PATCH', body: ops, etag: c.etag});
      for (const p of fields) if (p.secret) p.f.input.value = '';
      ctx.flash('ok', `Connection "${name.input.value.trim()}" saved.`);
      ctx.go('#/connections');
    } catch (error) {
      errors.show(error);
    } finally {
      submit.disabled = false;
    }
  });
  add(view, form);
}
