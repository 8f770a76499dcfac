// Modal dialogs: native <dialog> opened with showModal(), so the rest of the page is inert and
// focus stays inside; Escape closes it. On close the dialog leaves the DOM and focus returns
// to the control that opened it (or, when a re-render replaced that control, to its successor
// with the same data-focus-id, or to the view's heading).

import {api} from './api.js';
import {h, hidden, uid} from './dom.js';
import {announce, clearFieldErrors, showProblem, withdraw} from './problems.js';

/** Focus back to `opener`, or whatever now stands in its place. */
export function returnFocus(opener) {
  if (opener?.isConnected) {
    opener.focus();
    return;
  }
  const id = opener?.dataset?.focusId;
  const successor = id && document.querySelector(`[data-focus-id="${CSS.escape(id)}"]`);
  const target = successor || document.querySelector('[data-focus-fallback]') || document.querySelector('main h1');
  target?.focus();
}

function openDialog({title, body, opener, initialFocus, className = ''}) {
  const headingId = uid('dialog-title');
  const dialog = h('dialog', {'aria-labelledby': headingId, class: className},
    h('h2', {id: headingId}, title), body);
  document.body.append(dialog);
  const closed = new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove();
      returnFocus(opener);
      resolve(dialog.returnValue);
    }, {once: true});
  });
  dialog.showModal();
  (initialFocus || dialog.querySelector('input, select, textarea, button'))?.focus();
  return {dialog, closed};
}

/** Asks before a destructive change; resolves true when confirmed. Cancel has the focus. */
export async function confirmDialog({title, message, confirmLabel, opener}) {
  const cancel = h('button', {type: 'button', class: 'secondary'}, 'Cancel');
  const confirm = h('button', {type: 'button', class: 'danger'}, confirmLabel);
  const {dialog, closed} = openDialog({
    title, opener, initialFocus: cancel, className: 'confirm',
    body: [h('p', {}, message), h('div', {class: 'dialog-actions'}, cancel, confirm)],
  });
  cancel.addEventListener('click', () => dialog.close('cancel'));
  confirm.addEventListener('click', () => dialog.close('confirm'));
  return (await closed) === 'confirm';
}

/**
 * A dialog holding a form; `submit(form)` runs on submission and its result closes the dialog.
 * A refusal stays in the dialog, next to the field it names or in the dialog's alert. Resolves
 * the result, or null when cancelled. While a request is in flight the dialog refuses Escape and
 * Cancel; should the browser close it anyway, the page says the answer is still coming, and the
 * answer still counts: a created or rolled key is shown only once.
 */
export async function formDialog({title, fields, submitLabel, submit, opener, intro, busyMessage}) {
  const cancel = h('button', {type: 'button', class: 'secondary'}, 'Cancel');
  const submitButton = h('button', {type: 'submit'}, submitLabel);
  const form = h('form', {novalidate: true}, intro ? h('p', {}, intro) : null, fields,
    h('div', {class: 'form-alert', role: 'alert', 'data-alert': ''}),
    h('div', {class: 'dialog-actions'}, cancel, submitButton));
  const {dialog, closed} = openDialog({title, opener, body: form});
  let result = null;
  let pending = null;
  const busy = busyMessage || 'Still working: the answer will show when it arrives.';
  dialog.addEventListener('cancel', (event) => {
    if (pending) event.preventDefault();
  });
  cancel.addEventListener('click', () => {
    if (!pending) dialog.close('cancel');
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (pending) return;
    clearFieldErrors(form);
    submitButton.disabled = true;
    cancel.disabled = true;
    // Assigned before `submit` runs, so that even a submit that throws at once leaves it cleared.
    pending = Promise.resolve()
      .then(() => submit(form))
      .then((value) => {
        result = value;
        if (dialog.open) dialog.close('done');
      }, (error) => {
        if (!dialog.open) withdraw(busy);
        showProblem(error, dialog.open ? form : null);
      })
      .finally(() => {
        pending = null;
        submitButton.disabled = false;
        cancel.disabled = false;
      });
  });
  await closed;
  if (pending) {
    announce(busy);
    await pending;
  }
  return result;
}

/**
 * Shows a new key's full key, once. The key is taken out of `created` (its `fullKey` member is
 * deleted), lives in this dialog's text and this closure only, and both are wiped when the
 * dialog closes: the page keeps nothing of it. It is never stored, logged or put in a URL.
 */
export async function revealKey(created, {opener, title = 'Your new API key'}) {
  let secret = created.fullKey;
  delete created.fullKey;
  const keyText = h('code', {class: 'full-key', id: uid('full-key')}, secret);
  const copied = h('p', {class: 'copy-status', role: 'status'});
  const copy = h('button', {type: 'button'}, 'Copy', hidden(' the API key'));
  const done = h('button', {type: 'button', class: 'secondary'}, 'I have stored it, close');
  const {dialog, closed} = openDialog({
    title, opener, initialFocus: copy, className: 'reveal',
    body: [
      h('p', {class: 'warning'},
        h('strong', {}, 'This is the only time this key is shown.'),
        ' It cannot be shown again: store it in your secret manager now. If you lose it, roll or revoke the key.'),
      h('p', {class: 'key-label', id: `${keyText.id}-label`}, `API key ${created.keyPrefix}…`),
      h('div', {class: 'key-box', role: 'group', 'aria-labelledby': `${keyText.id}-label`}, keyText),
      h('div', {class: 'dialog-actions'}, copy, done),
      copied,
    ],
  });
  copy.addEventListener('click', async () => {
    if (!secret) return;
    try {
      await navigator.clipboard.writeText(secret);
      copied.textContent = 'Copied to the clipboard.';
    } catch {
      // No clipboard permission: select the key so that Ctrl+C (⌘C) copies it.
      const range = document.createRange();
      range.selectNodeContents(keyText);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      copied.textContent = 'Could not copy by itself: the key is selected, press Ctrl+C (⌘C) to copy it.';
    }
  });
  done.addEventListener('click', () => dialog.close('done'));
  await closed;
  // The dialog left the DOM on close; drop the text and the last reference too.
  getSelection()?.removeAllRanges();
  keyText.textContent = '';
  secret = null;
}

/** The roll's grace windows: how long the old key keeps working. */
export const GRACE_WINDOWS = [
  [0, 'Now: the old key stops at once'],
  [3600, '1 hour'],
  [86400, '24 hours'],
  [604800, '7 days'],
];

/** Asks for the grace window, rolls, and reveals the new key. Resolves true when rolled. */
export async function rollKeyDialog(applicationId, key, opener) {
  const id = uid('grace');
  const select = h('select', {id, name: 'expiresInSeconds'},
    GRACE_WINDOWS.map(([seconds, label]) => h('option', {value: seconds, selected: seconds === 3600}, label)));
  const rolled = await formDialog({
    title: `Roll key ${key.keyPrefix}`,
    intro: 'A new key replaces this one. The old key keeps working for the window you choose, so that you can deploy the new key first.',
    fields: h('div', {class: 'field'}, h('label', {for: id}, 'Old key keeps working for'), select),
    submitLabel: 'Roll key',
    busyMessage: `Rolling key ${key.keyPrefix}: the new key will be shown when the answer arrives.`,
    opener,
    submit: () => api.rollKey(applicationId, key.id, {expiresInSeconds: Number(select.value)}),
  });
  if (!rolled) return false;
  await revealKey(rolled, {opener, title: 'Your new API key (rolled)'});
  return true;
}
