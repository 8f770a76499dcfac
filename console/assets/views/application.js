// One application: its details, disable/enable, its keys with their actions (roll, edit
// permissions, revoke), and the form that creates a key.

import {api} from '../api.js';
import {confirmDialog, formDialog, revealKey, rollKeyDialog} from '../dialogs.js';
import {focus, h, hidden, replace, time, uid} from '../dom.js';
import {keysTable} from '../keys-table.js';
import {permissionsField} from '../permissions.js';
import {announce, clearAlert, clearFieldErrors, showProblem} from '../problems.js';

/** `datetime-local` (the merchant's time zone) → RFC 3339 UTC, whole seconds. */
function expiresAt(value) {
  if (!value) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function createKeyForm(ctx, application, refresh) {
  const descriptionId = uid('key-description');
  const expiresId = uid('key-expires');
  const expiresHint = uid('hint');
  const permissions = permissionsField(ctx.config.paymentResources);
  const submit = h('button', {type: 'submit', dataset: {focusId: 'create-key'}}, 'Create key');
  const form = h('form', {class: 'card', novalidate: true, 'aria-labelledby': 'create-key-heading'},
    h('h2', {id: 'create-key-heading'}, 'Create a key'),
    h('div', {class: 'field'},
      h('label', {for: descriptionId}, 'Description'),
      h('input', {id: descriptionId, name: 'description', type: 'text', required: true, autocomplete: 'off'})),
    h('div', {class: 'field'},
      h('label', {for: expiresId}, 'Expires (optional)'),
      h('p', {class: 'hint', id: expiresHint}, 'In your time zone. Leave empty for a key that never expires.'),
      h('input', {id: expiresId, name: 'expiresAt', type: 'datetime-local', 'aria-describedby': expiresHint})),
    permissions.element,
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    clearFieldErrors(form);
    const body = {description: form.elements.description.value};
    const expiry = expiresAt(form.elements.expiresAt.value);
    if (expiry) body.expiresAt = expiry;
    const chosen = permissions.value();
    if (chosen !== null) body.permissions = chosen;
    submit.disabled = true;
    let created;
    try {
      created = await api.createKey(application.id, body);
    } catch (error) {
      showProblem(error, form);
      return;
    } finally {
      submit.disabled = false;
    }
    form.reset();
    clearAlert();
    await revealKey(created, {opener: submit});
    announce(`Key ${created.keyPrefix} created.`);
    await refresh();
  });
  return form;
}

function editPermissions(ctx, application, key, opener) {
  const permissions = permissionsField(ctx.config.paymentResources, key.permissions, 'Permissions');
  return formDialog({
    title: `Permissions of key ${key.keyPrefix}`,
    intro: 'The key keeps its value; its next payment call gets the new permissions.',
    fields: permissions.element,
    submitLabel: 'Save permissions',
    opener,
    submit: () => api.updateKey(application.id, key.id, {permissions: permissions.value()}),
  });
}

function keyActions(ctx, application, refresh) {
  return (key) => {
    if (key.status !== 'active') return h('span', {class: 'muted'}, '—');
    const label = ` key ${key.keyPrefix}`;
    const roll = h('button', {type: 'button', class: 'small secondary', dataset: {focusId: `roll-${key.id}`}},
      'Roll', hidden(label));
    const edit = h('button', {type: 'button', class: 'small secondary', dataset: {focusId: `edit-${key.id}`}},
      'Permissions', hidden(` of${label}`));
    const revoke = h('button', {type: 'button', class: 'small danger', dataset: {focusId: `revoke-${key.id}`}},
      'Revoke', hidden(label));
    roll.addEventListener('click', async () => {
      if (await rollKeyDialog(application.id, key, roll)) {
        announce(`Key ${key.keyPrefix} rolled.`);
        await refresh();
      }
    });
    edit.addEventListener('click', async () => {
      const updated = await editPermissions(ctx, application, key, edit);
      if (updated) {
        announce(`Permissions of key ${key.keyPrefix} saved.`);
        await refresh();
      }
    });
    revoke.addEventListener('click', async () => {
      const sure = await confirmDialog({
        title: `Revoke key ${key.keyPrefix}?`,
        message: `Payment calls with “${key.description}” (${key.keyPrefix}…) are refused from the next one. This cannot be undone.`,
        confirmLabel: 'Revoke key',
        opener: revoke,
      });
      if (!sure) return;
      try {
        await api.revokeKey(application.id, key.id);
        announce(`Key ${key.keyPrefix} revoked.`);
      } catch (error) {
        showProblem(error);
      }
      await refresh();
    });
    return h('div', {class: 'button-row'}, roll, edit, revoke);
  };
}

function statusButton(application, refresh) {
  const enabling = !application.isEnabled;
  const button = h('button', {type: 'button', class: enabling ? '' : 'danger', dataset: {focusId: 'status'}},
    enabling ? 'Enable application' : 'Disable application');
  button.addEventListener('click', async () => {
    if (!enabling) {
      const sure = await confirmDialog({
        title: `Disable ${application.name}?`,
        message: 'Every payment call with its keys is refused until you enable it again.',
        confirmLabel: 'Disable application',
        opener: button,
      });
      if (!sure) return;
    }
    try {
      const updated = await api.setApplicationStatus(application.id, enabling);
      announce(`Application “${updated.name}” ${updated.isEnabled ? 'enabled' : 'disabled'}.`);
    } catch (error) {
      showProblem(error);
    }
    await refresh();
  });
  return button;
}

export async function applicationView(ctx, {id}) {
  const render = (application) => {
    document.title = `${application.name} · Merchant console`;
    const refresh = async () => {
      const active = document.activeElement?.dataset?.focusId;
      let next;
      try {
        next = await api.getApplication(id);
      } catch (error) {
        showProblem(error);
        return;
      }
      if (!ctx.isCurrent()) return;
      render(next);
      const successor = active && ctx.main.querySelector(`[data-focus-id="${CSS.escape(active)}"]`);
      if (successor) successor.focus();
      else if (document.activeElement === document.body || !document.activeElement) {
        focus(ctx.main.querySelector('[data-focus-fallback]'));
      }
    };
    const keys = application.apiKeys;
    replace(ctx.main,
      h('nav', {'aria-label': 'Breadcrumb', class: 'breadcrumb'},
        h('ol', {}, h('li', {}, h('a', {href: '#/applications'}, 'Applications')),
          h('li', {}, h('span', {'aria-current': 'page'}, application.name)))),
      h('div', {class: 'title-row'},
        h('h1', {tabindex: '-1'}, application.name),
        h('span', {class: `badge ${application.isEnabled ? 'badge-active' : 'badge-disabled'}`},
          application.isEnabled ? 'Enabled' : 'Disabled')),
      application.description ? h('p', {class: 'description'}, application.description) : null,
      h('dl', {class: 'facts'},
        h('dt', {}, 'Application ID'), h('dd', {}, h('code', {}, application.id)),
        h('dt', {}, 'Created'), h('dd', {}, time(application.createdAt))),
      h('div', {class: 'button-row'},
        statusButton(application, refresh),
        h('a', {href: `#/applications/${application.id}/events`, class: 'button secondary'}, 'Audit events')),
      createKeyForm(ctx, application, refresh),
      h('section', {'aria-labelledby': 'keys-heading'},
        h('h2', {id: 'keys-heading', tabindex: '-1', 'data-focus-fallback': true}, 'Keys'),
        keys.length
          ? keysTable(keys, {caption: `Keys of ${application.name}`, actions: keyActions(ctx, application, refresh)})
          : h('p', {class: 'muted'}, 'No keys yet: create one above.')));
  };
  document.title = 'Application · Merchant console';
  replace(ctx.main, h('h1', {tabindex: '-1'}, 'Application'), h('p', {class: 'muted'}, 'Loading…'));
  const application = await api.getApplication(id);
  if (ctx.isCurrent()) render(application);
}
