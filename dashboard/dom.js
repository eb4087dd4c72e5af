// DOM helpers for the dashboard: elements are built with DOM APIs only
// (never from HTML strings), so text from peers and plugins can never
// become markup, and the page needs no inline script or style (its CSP
// forbids both).

// h('div', {class: 'x', data: {node: 'a'}, on: {click: f}, title: 't'}, child, 'text', ...)
// `null`, `undefined` and `false` children and attributes are left out;
// arrays of children are flattened.
export function h(tag, props = {}, ...children) {
  return build(document.createElement(tag), props, children);
}

const kSvgNs = 'http://www.w3.org/2000/svg';

// The same for SVG elements (the thermostat's chart).
export function s(tag, props = {}, ...children) {
  return build(document.createElementNS(kSvgNs, tag), props, children);
}

// Properties that must be set as such, not as attributes, to take effect
// after the user has touched a form control.
const kProperties = new Set(['value', 'checked', 'disabled']);

function build(node, props, children) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') {
      node.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (key === 'data') {
      for (const [name, item] of Object.entries(value)) node.dataset[name] = String(item);
    } else if (key === 'on') {
      for (const [name, listener] of Object.entries(value)) node.addEventListener(name, listener);
    } else if (kProperties.has(key)) {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

// "4 d 3 h", "12 min", "40 s": how long, to a person.
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

// The message of an error thrown by api.js (or anything else), for people.
export function message(error) {
  return error && error.message ? error.message : String(error);
}
