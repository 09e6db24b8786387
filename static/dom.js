// Building DOM from untrusted data: text always goes in as text nodes, never as markup.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateOnly = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function formatWhen(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  const today = new Date();
  return moment.toDateString() === today.toDateString() ? timeOnly.format(moment) : dateOnly.format(moment);
}

export function formatFull(iso) {
  return iso ? full.format(new Date(iso)) : "";
}

export function formatAddress(address) {
  if (!address) return "";
  return address.name ? `${address.name} <${address.address}>` : address.address;
}

export function formatAddresses(list) {
  return (list || []).map(formatAddress).join(", ");
}

export function replyClass(code) {
  if (code >= 500) return "code-5xx";
  if (code >= 400) return "code-4xx";
  if (code >= 300) return "code-3xx";
  return "code-2xx";
}

const SVG = "http://www.w3.org/2000/svg";
const ICON_PATHS = {
  clip: "M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5",
  warning: "M10.3 3.9L1.8 18a2 2 0 0 0 1.7 3h16.9a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0zM12 9v4M12 17h.01",
};

// A decorative stroke icon; the label (if any) is for screen readers.
export function icon(name, label) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `icon icon-${name}`);
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICON_PATHS[name]);
  svg.append(path);
  return label ? [svg, h("span", { class: "visually-hidden", text: label })] : svg;
}

// The warnings worth flagging: informational ones (a missing Date, say) are shown only in the Envelope tab.
export function flagged(warnings) {
  return (warnings ?? []).filter((w) => w.severity !== "info");
}

// Re-render a part of the page without losing the keyboard focus: the element that had it is found again
// by its `attribute` (e.g. data-tag) in the new content.
export function keepingFocus(root, attribute, render) {
  const focused = root.contains(document.activeElement) ? document.activeElement.getAttribute(attribute) : null;
  render();
  if (focused !== null) root.querySelector(`[${attribute}="${CSS.escape(focused)}"]`)?.focus();
}
