// Where an answer is shown: each problem next to the field it names (the form's control with
// that `name`, or the fieldset with that `data-field`), anything else in the form's own alert
// region (`[data-alert]`, a dialog's: the page behind a modal is inert) or else the page's
// (role="alert"); success in the polite status region (role="status").

import {h, replace, uid} from './dom.js';

const alertRegion = () => document.getElementById('alert');
const statusRegion = () => document.getElementById('status');

/** Refusals that are about one field although they carry no `errors` list. */
const FIELD_OF_CODE = {name_taken: 'name'};

/** The message `announce` will show on the next frame, and that frame's id. */
let coming = null;

export function announce(message) {
  clearAlert();
  // A change of text is what screen readers announce: clear first so the same message repeats.
  replace(statusRegion());
  if (coming) cancelAnimationFrame(coming.frame);
  const announcement = {message};
  announcement.frame = requestAnimationFrame(() => {
    coming = null;
    replace(statusRegion(), message);
  });
  coming = announcement;
}

/**
 * Takes back a message that no longer holds (a promise), whether it is shown or still to come;
 * any other message stays.
 */
export function withdraw(message) {
  if (coming?.message === message) {
    cancelAnimationFrame(coming.frame);
    coming = null;
  }
  if (statusRegion().textContent === message) replace(statusRegion());
}

export function showAlert(title, detail, region = alertRegion()) {
  replace(region,
    h('div', {class: 'alert-box'},
      h('p', {class: 'alert-title'}, title),
      detail ? h('p', {}, detail) : null,
      h('button', {type: 'button', class: 'quiet', onclick: () => dismiss(region)}, 'Dismiss')));
}

/** Clears the alert and puts focus where the merchant was: the dialog's first control, or the view. */
function dismiss(region) {
  clearAlert(region);
  const form = region.closest('form');
  const target = form ? form.querySelector('input, select, textarea, button') : document.querySelector('main h1');
  target?.focus();
}

export function clearAlert(region = alertRegion()) {
  replace(region);
}

/** The form's own alert region, or the page's. */
function regionFor(form) {
  return form?.querySelector('[data-alert]') || alertRegion();
}

/** `permissions[1]` → `permissions`; `a.b` → `a`. */
function baseField(field) {
  return String(field).split(/[.[]/)[0];
}

function controlFor(form, field) {
  if (!form) return null;
  const base = baseField(field);
  return form.querySelector(`[data-field="${CSS.escape(base)}"]`) ||
    form.querySelector(`[name="${CSS.escape(base)}"]`);
}

/** Removes the messages `showProblem` put in `form`. */
export function clearFieldErrors(form) {
  if (!form) return;
  const own = form.querySelector('[data-alert]');
  if (own) clearAlert(own);
  for (const message of form.querySelectorAll('.field-error')) message.remove();
  for (const control of form.querySelectorAll('[aria-invalid], fieldset[aria-describedby]')) {
    control.removeAttribute('aria-invalid');
    const describedBy = (control.getAttribute('aria-describedby') || '')
      .split(' ').filter((id) => id && !id.startsWith('error-')).join(' ');
    if (describedBy) control.setAttribute('aria-describedby', describedBy);
    else control.removeAttribute('aria-describedby');
  }
}

/** "Description" for the control labelled "Description (optional)": what a message starts with. */
function labelOf(control, field) {
  const text = control.tagName === 'FIELDSET'
    ? control.querySelector('legend')?.textContent
    : control.labels?.[0]?.textContent;
  return (text || field).replace(/\s*\(optional\)\s*$/, '').trim();
}

function markField(control, message) {
  const id = uid('error');
  const text = h('p', {class: 'field-error', id}, message);
  // The message goes right after the control (or at the end of a fieldset's legend block).
  if (control.tagName === 'FIELDSET') control.append(text);
  else control.insertAdjacentElement('afterend', text);
  // aria-invalid belongs on form controls; a fieldset (a group) only gets the description.
  if (control.tagName !== 'FIELDSET') control.setAttribute('aria-invalid', 'true');
  const describedBy = control.getAttribute('aria-describedby');
  control.setAttribute('aria-describedby', describedBy ? `${describedBy} ${id}` : id);
}

/**
 * Shows an ApiError (or any error) for `form`: each `errors[]` entry next to its field, a
 * refusal about one field (409 name_taken) next to that field, anything else in the form's
 * alert region or the page's. Focus moves to the first field in error.
 */
export function showProblem(error, form = null) {
  clearFieldErrors(form);
  const region = regionFor(form);
  const problem = error?.problem;
  if (!problem) {
    showAlert('Something went wrong', error?.message || String(error), region);
    return;
  }
  const unplaced = [];
  let first = null;
  const place = (field, message, sentence) => {
    const control = controlFor(form, field);
    if (!control) {
      unplaced.push(field ? `${field}: ${message}` : message);
      return;
    }
    markField(control, sentence ? message : `${labelOf(control, field)} ${message}.`);
    first ||= control;
  };
  if (problem.errors.length) {
    for (const {field, message} of problem.errors) place(field, message, false);
  } else if (FIELD_OF_CODE[problem.code] && controlFor(form, FIELD_OF_CODE[problem.code])) {
    place(FIELD_OF_CODE[problem.code], problem.detail || problem.title, true);
  } else {
    unplaced.push(problem.detail);
  }
  if (unplaced.length) {
    showAlert(problem.title, unplaced.filter(Boolean).join(' '), region);
  } else {
    clearAlert(region);
  }
  if (first) {
    const target = first.tagName === 'FIELDSET' ? first.querySelector('input, select') : first;
    target?.focus();
  }
}
