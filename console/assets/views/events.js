// An application's audit trail, newest first, a page of 20 at a time ("Load older events").

import {api} from '../api.js';
import {focus, h, replace, time} from '../dom.js';
import {describePermissions} from '../permissions.js';
import {showProblem} from '../problems.js';

const PAGE_SIZE = 20;

const EVENT_TEXT = {
  'application.created': 'Application created',
  'application.disabled': 'Application disabled',
  'application.enabled': 'Application enabled',
  'api_key.created': 'Key created',
  'api_key.rolled': 'Key rolled',
  'api_key.revoked': 'Key revoked',
  'api_key.updated': 'Key changed',
};

function details(event) {
  const parts = [];
  if (event.newKey) parts.push(`replaced by ${event.newKey.keyPrefix}`);
  if (event.permissions) {
    parts.push(`permissions: ${describePermissions(event.permissions.old)} → ${describePermissions(event.permissions.new)}`);
  }
  if (event.description) parts.push(`description: “${event.description.old}” → “${event.description.new}”`);
  if (event.report) parts.push(`leaked at ${event.report.url} (${event.report.source})`);
  return parts.join('; ');
}

function row(event) {
  return h('tr', {dataset: {eventType: event.type}},
    h('td', {}, time(event.createdAt)),
    h('td', {}, h('span', {class: 'event-type'}, EVENT_TEXT[event.type] || event.type),
      h('br'), h('code', {class: 'small'}, event.type)),
    h('td', {}, event.keyPrefix ? h('code', {}, event.keyPrefix) : h('span', {class: 'muted'}, '—')),
    h('td', {}, details(event) || h('span', {class: 'muted'}, '—')),
    h('td', {}, event.actor.sub),
    h('td', {}, event.sourceIp || h('span', {class: 'muted'}, 'unknown')),
    h('td', {class: 'user-agent'}, event.userAgent || h('span', {class: 'muted'}, 'none')));
}

export async function eventsView(ctx, {id}) {
  document.title = 'Audit events · Merchant console';
  replace(ctx.main, h('h1', {tabindex: '-1'}, 'Audit events'), h('p', {class: 'muted'}, 'Loading…'));
  const [application, first] = await Promise.all([api.getApplication(id), api.listEvents(id, PAGE_SIZE)]);
  if (!ctx.isCurrent()) return;
  document.title = `Audit events of ${application.name} · Merchant console`;

  const body = h('tbody', {}, first.items.map(row));
  const more = h('button', {type: 'button', class: 'secondary'}, 'Load older events');
  let last = first.items.at(-1)?.id;
  more.hidden = !first.hasMore;
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const page = await api.listEvents(id, PAGE_SIZE, last);
      const rows = page.items.map(row);
      body.append(...rows);
      last = page.items.at(-1)?.id ?? last;
      more.hidden = !page.hasMore;
      // Focus goes to the first new row so that reading continues where the page grew.
      if (rows.length) focus(rows[0].cells[0]);
    } catch (error) {
      showProblem(error);
    } finally {
      more.disabled = false;
    }
  });

  replace(ctx.main,
    h('nav', {'aria-label': 'Breadcrumb', class: 'breadcrumb'},
      h('ol', {},
        h('li', {}, h('a', {href: '#/applications'}, 'Applications')),
        h('li', {}, h('a', {href: `#/applications/${application.id}`}, application.name)),
        h('li', {}, h('span', {'aria-current': 'page'}, 'Audit events')))),
    h('h1', {tabindex: '-1'}, 'Audit events: ', application.name),
    h('p', {class: 'meta'}, 'Every change to the application and its keys, newest first, kept 400 days.'),
    first.items.length
      ? h('div', {class: 'table-scroll', role: 'region', tabindex: '0', 'aria-labelledby': 'events-caption'},
        h('table', {class: 'events'},
          h('caption', {id: 'events-caption'}, `Audit events of ${application.name}`),
          h('thead', {}, h('tr', {}, ['When', 'Event', 'Key', 'Details', 'By', 'From', 'User agent']
            .map((text) => h('th', {scope: 'col'}, text)))),
          body))
      : h('p', {}, 'No events yet.'),
    more);
}
