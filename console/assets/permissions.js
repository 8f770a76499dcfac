// A key's permissions as a form: unrestricted (every payment route), or restricted to some of the
// payment API's resources (config.paymentResources), each with no access, read, or read and
// write. The fieldset carries data-field="permissions" so that a refusal naming `permissions`
// or `permissions[i]` is shown next to it.

import {h, uid} from './dom.js';

const LEVELS = [['none', 'No access'], ['read', 'Read'], ['write', 'Read and write']];

/** The text a listing shows for a key's permissions (null: unrestricted). */
export function describePermissions(permissions) {
  if (!permissions) return 'Unrestricted';
  return permissions.join(', ');
}

function levelOf(permissions, resource) {
  if (!permissions) return 'none';
  if (permissions.includes(`${resource}:write`)) return 'write';
  if (permissions.includes(`${resource}:read`)) return 'read';
  return 'none';
}

/**
 * The fieldset and a `value()` that answers `null` (unrestricted) or the array of permissions
 * (possibly empty, which the API refuses with a message shown next to the fieldset).
 */
export function permissionsField(resources, current = null, legend = 'Permissions') {
  const group = uid('access');
  const unrestricted = h('input', {type: 'radio', name: group, value: 'all', id: `${group}-all`, checked: current === null});
  const restricted = h('input', {type: 'radio', name: group, value: 'some', id: `${group}-some`, checked: current !== null});
  const selects = resources.map((resource) => {
    const id = uid('perm');
    const select = h('select', {id, name: `perm-${resource}`, dataset: {resource}},
      LEVELS.map(([value, label]) => h('option', {value, selected: levelOf(current, resource) === value}, label)));
    return {resource, select, row: h('div', {class: 'perm-row'}, h('label', {for: id}, resource), select)};
  });
  const rows = h('div', {class: 'perm-resources'}, selects.map((s) => s.row));
  const sync = () => {
    for (const {select} of selects) select.disabled = !restricted.checked;
    rows.classList.toggle('is-disabled', !restricted.checked);
  };
  unrestricted.addEventListener('change', sync);
  restricted.addEventListener('change', sync);
  sync();

  const element = h('fieldset', {class: 'permissions', 'data-field': 'permissions'},
    h('legend', {}, legend),
    h('div', {class: 'radio'}, unrestricted,
      h('label', {for: unrestricted.id}, 'Unrestricted: every payment route')),
    h('div', {class: 'radio'}, restricted,
      h('label', {for: restricted.id}, 'Restricted to the resources below')),
    rows);

  const value = () => {
    if (!restricted.checked) return null;
    return selects
      .filter(({select}) => select.value !== 'none')
      .map(({resource, select}) => `${resource}:${select.value}`);
  };
  return {element, value};
}
