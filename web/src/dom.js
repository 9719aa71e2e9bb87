// Element building without innerHTML: names and titles come from users, so
// every piece of text goes in through textContent.

/**
 * h('a', {class: 'x', href: '#/'}, 'text', child) → element.
 * Attributes: `class`, `dataset` (object), `on` (object of listeners),
 * `hidden`/`disabled`/… booleans, anything else via setAttribute.
 * Children: strings (as text nodes), nodes, null/false (skipped), arrays.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name === 'on') for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces all children of `el`. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** Sets text only when it changed (keeps selections and avoids relayout during polling). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}
