// Tiny DOM helpers. Text is only ever inserted as text: `h` turns every string child into a
// text node and sets attributes with setAttribute, so data from the API can never become markup.

/**
 * h('button', {type: 'button', class: 'link', onclick: fn}, 'Roll ', hidden('key ks_live_…'))
 * Attributes named on* become event listeners; `false`, `null` and `undefined` leave an
 * attribute (or a child) out; `true` sets an empty attribute.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces every child of `element` with `children`. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** Text that only screen readers read (for a button whose visible text needs its row). */
export function hidden(text) {
  return h('span', {class: 'visually-hidden'}, text);
}

let ids = 0;
/** A document-unique id, for label/for and aria-describedby pairs. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** `<time>` for an RFC 3339 timestamp, or a dash (with "never"/"not set" for screen readers). */
export function time(value, none = 'never') {
  if (!value) return h('span', {class: 'muted'}, none);
  const date = new Date(value);
  const shown = Number.isNaN(date.getTime()) ? value : formatter.format(date);
  return h('time', {datetime: value, title: value}, shown);
}

const formatter = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
});

/** Moves focus to `element` (making it focusable by script if it is not), without scrolling jumps. */
export function focus(element) {
  if (!element) return;
  if (!element.hasAttribute('tabindex') && !element.matches('a[href], button, input, select, textarea')) {
    element.setAttribute('tabindex', '-1');
  }
  element.focus();
}
