// A table of an application's keys: prefix, description, status, permissions, created,
// expires, last used, and (in the application's own view) the actions on each active key.

import {h, hidden, time, uid} from './dom.js';
import {describePermissions} from './permissions.js';

const STATUS_TEXT = {active: 'Active', revoked: 'Revoked', expired: 'Expired'};

/**
 * `actions(key)` (optional) answers the controls of one key's row. The wrapper scrolls on
 * narrow screens, so it is a labelled, focusable region that a keyboard can scroll too.
 */
export function keysTable(keys, {caption, actions} = {}) {
  const head = ['Key', 'Description', 'Status', 'Permissions', 'Created', 'Expires', 'Last used'];
  if (actions) head.push('Actions');
  const captionId = uid('caption');
  const rows = keys.map((key) => h('tr', {dataset: {keyId: key.id}},
    h('th', {scope: 'row'}, h('code', {}, key.keyPrefix), hidden('…')),
    h('td', {}, key.description),
    h('td', {}, h('span', {class: `badge badge-${key.status}`}, STATUS_TEXT[key.status] || key.status),
      key.revokedAt ? h('span', {class: 'small'}, ' ', time(key.revokedAt)) : null),
    h('td', {}, describePermissions(key.permissions)),
    h('td', {}, time(key.createdAt)),
    h('td', {}, time(key.expiresAt)),
    h('td', {}, time(key.lastUsedAt)),
    actions ? h('td', {class: 'row-actions'}, actions(key)) : null));
  return h('div', {class: 'table-scroll', role: 'region', tabindex: '0', 'aria-labelledby': captionId},
    h('table', {class: 'keys'},
      h('caption', {id: captionId}, caption),
      h('thead', {}, h('tr', {}, head.map((text) => h('th', {scope: 'col'}, text)))),
      h('tbody', {}, rows)));
}
