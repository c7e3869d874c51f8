// Sign-in with an API client's id and secret, then the choice of a sandbox.

import {h, add, fill, notice} from '../dom.js';
import {field, textInput} from '../form.js';
import * as api from '../api.js';
import * as session from '../session.js';

/** `#/signin`: exchanges the client's id and secret for a token at `/ims/token/v3`. */
export async function render(view, ctx) {
  ctx.title('Sign in');
  if (session.current()) session.end();
  const id = field({label: 'Client ID', required: true, input: textInput({name: 'client_id'})});
  const secret = field({label: 'Client secret', required: true,
    input: h('input', {type: 'password', name: 'client_secret', autocomplete: 'off'})});
  const result = h('div', {class: 'form-errors'});
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Sign in');
  const form = h('form', {class: 'card narrow', novalidate: false}, id.node, secret.node, result, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    fill(result, notice('info', 'Signing in…'));
    const clientSecret = secret.input.value;
    // The secret leaves the page only in this one request; the field is emptied at once.
    secret.input.value = '';
    try {
      const answer = await api.exchange(id.input.value.trim(), clientSecret);
      session.start(answer.access_token, Number(answer.expires_in));
      ctx.go('#/sandbox');
    } catch (error) {
      fill(result, notice('error', `Sign-in failed: ${error.message}`));
      secret.input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  add(view, 
    h('h1', {}, 'Sign in to Inlet'),
    h('p', {class: 'lead'}, 'Sign in with an API client of your organisation. An operator creates one with ',
      h('code', {}, 'inlet clients create --org <org> --name <name>'), ', which prints its ',
      h('code', {}, 'client_id'), ' and ', h('code', {}, 'client_secret'), '.'),
    form,
    h('p', {class: 'help'}, 'The secret is exchanged for a token and then forgotten. The token is kept only in this tab (not in a cookie) and ends when it expires, when you sign out, or when the tab closes.'));
  id.input.focus();
}

/** `#/sandbox`: the org's sandboxes; every later call addresses the one chosen. */
export async function renderSandbox(view, ctx) {
  ctx.title('Choose a sandbox');
  const current = session.current();
  add(view, h('h1', {}, 'Choose a sandbox'),
    h('p', {class: 'lead'}, `Signed in as client ${current.clientId} of ${current.org}. Connections, dataflows and datasets belong to one sandbox.`));
  const answer = await api.call(api.SANDBOXES, {sandbox: false});
  const sandboxes = answer.sandboxes || [];
  // Nothing to choose right after sign-in when the org has one sandbox: take it.
  if (!current.sandbox && sandboxes.length === 1) {
    session.chooseSandbox(sandboxes[0].name);
    return ctx.go('#/connections');
  }
  const chosen = current.sandbox || 'prod';
  const options = sandboxes.map((s) => h('label', {class: 'choice'},
    h('input', {type: 'radio', name: 'sandbox', value: s.name, checked: s.name === chosen}),
    ' ', h('strong', {}, s.name), ` — ${s.title || s.name} (${s.type})`));
  const form = h('form', {class: 'card narrow'},
    h('fieldset', {}, h('legend', {}, 'Sandbox'), options),
    h('button', {type: 'submit', class: 'primary'}, 'Continue'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const picked = form.querySelector('input[name=sandbox]:checked');
    session.chooseSandbox(picked ? picked.value : 'prod');
    ctx.go('#/connections');
  });
  add(view, form);
}
