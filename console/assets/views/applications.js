// The merchant's applications, newest first, a page at a time, each with its keys; and the form
// that creates an application.

import {api} from '../api.js';
import {h, replace, time, uid} from '../dom.js';
import {keysTable} from '../keys-table.js';
import {announce, clearFieldErrors, showProblem} from '../problems.js';

const PAGE_SIZE = 10;

function createForm(onCreated) {
  const nameId = uid('app-name');
  const descriptionId = uid('app-description');
  const hintId = uid('hint');
  const submit = h('button', {type: 'submit'}, 'Create application');
  const form = h('form', {class: 'card', novalidate: true, 'aria-labelledby': 'create-app-heading'},
    h('h2', {id: 'create-app-heading'}, 'Create an application'),
    h('div', {class: 'field'},
      h('label', {for: nameId}, 'Name'),
      h('p', {class: 'hint', id: hintId}, 'Unique in your account, up to 100 characters.'),
      h('input', {id: nameId, name: 'name', type: 'text', required: true, autocomplete: 'off', 'aria-describedby': hintId})),
    h('div', {class: 'field'},
      h('label', {for: descriptionId}, 'Description (optional)'),
      h('textarea', {id: descriptionId, name: 'description', rows: '2'})),
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    clearFieldErrors(form);
    const description = form.elements.description.value.trim();
    submit.disabled = true;
    try {
      const created = await api.createApplication({
        name: form.elements.name.value,
        description: description ? description : null,
      });
      form.reset();
      announce(`Application “${created.name}” created.`);
      await onCreated(created);
    } catch (error) {
      showProblem(error, form);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function applicationCard(application) {
  const keys = application.apiKeys || [];
  const active = keys.filter((key) => key.status === 'active').length;
  return h('li', {class: 'card application', dataset: {applicationId: application.id}},
    h('div', {class: 'card-head'},
      h('h3', {}, h('a', {href: `#/applications/${application.id}`}, application.name)),
      h('span', {class: `badge ${application.isEnabled ? 'badge-active' : 'badge-disabled'}`},
        application.isEnabled ? 'Enabled' : 'Disabled')),
    application.description ? h('p', {class: 'description'}, application.description) : null,
    h('p', {class: 'meta'}, 'Created ', time(application.createdAt), ` · ${active} active ${active === 1 ? 'key' : 'keys'}`),
    keys.length
      ? keysTable(keys, {caption: `Keys of ${application.name}`})
      : h('p', {class: 'muted'}, 'No keys yet.'));
}

function pager(page) {
  if (page.totalPages <= 1) return null;
  const link = (target, label, enabled) => enabled
    ? h('a', {href: `#/applications?page=${target}`, class: 'button secondary'}, label)
    : h('span', {class: 'button secondary is-disabled', 'aria-disabled': 'true'}, label);
  return h('nav', {class: 'pager', 'aria-label': 'Pages of applications'},
    link(page.page - 1, 'Previous page', page.hasPreviousPage),
    h('span', {}, `Page ${page.page} of ${page.totalPages}`),
    link(page.page + 1, 'Next page', page.hasNextPage));
}

export async function applicationsView(ctx, {page = 1}) {
  document.title = 'Applications · Merchant console';
  const list = h('section', {'aria-labelledby': 'apps-heading', class: 'applications'},
    h('h2', {id: 'apps-heading'}, 'Your applications'),
    h('p', {class: 'muted'}, 'Loading…'));
  const load = async () => {
    const result = await api.listApplications(page, PAGE_SIZE);
    if (!ctx.isCurrent()) return;
    replace(list,
      h('h2', {id: 'apps-heading'}, 'Your applications'),
      h('p', {class: 'meta', id: 'apps-count'},
        `${result.totalItems} ${result.totalItems === 1 ? 'application' : 'applications'}`),
      result.items.length
        ? h('ul', {class: 'application-list', 'aria-labelledby': 'apps-heading'}, result.items.map(applicationCard))
        : h('p', {}, result.totalItems ? 'No applications on this page.' : 'No applications yet: create the first one above.'),
      pager(result));
  };
  replace(ctx.main,
    h('h1', {tabindex: '-1'}, 'Applications'),
    createForm(async () => {
      if (page !== 1) ctx.navigate('#/applications');
      else await load();
    }),
    list);
  await load();
}
