// The page: wires the mailbox switcher, the list, the message view, the sessions view and the live
// connection together. Routes live in the URL fragment: #/ (every mailbox), #/messages/<id>, #/sessions,
// and the same under one mailbox: #/mailbox/<name>/, #/mailbox/<name>/messages/<id>,
// #/mailbox/<name>/sessions.

import { deleteAll, deleteMessage, getMessage, markAllRead, setRead } from "./api.js";
import { acceptDrops } from "./drop.js";
import { MessageList } from "./list.js";
import { Live } from "./live.js";
import { hashFor, MailboxSwitcher, parseHash } from "./mailboxes.js";
import { SessionsView } from "./sessions.js";
import { TagFilter, toggleTag } from "./tags.js";
import { MessageView } from "./view.js";

const $ = (id) => document.getElementById(id);
const split = $("messages-view");
const search = $("search");
const searchError = $("search-error");

function showError(error) {
  searchError.textContent = error.message;
  search.setAttribute("aria-invalid", "true");
}

let mailbox = null; // the open mailbox; null: every mailbox
const here = (rest = "") => hashFor(mailbox, rest);
const messageHash = (id) => here(`messages/${encodeURIComponent(id)}`);

const list = new MessageList($("list"), {
  onOpen: (id) => navigate(messageHash(id)),
  onTag: (tag) => filterByTag(tag),
  onCounts: (total, unread) => {
    searchError.textContent = "";
    search.removeAttribute("aria-invalid");
    $("counts").textContent = `${total} message${total === 1 ? "" : "s"} · ${unread} unread`;
    document.title = unread ? `(${unread}) mailtrap-lite` : "mailtrap-lite";
    $("delete-all").disabled = total === 0;
    $("mark-all-read").disabled = unread === 0;
    tagFilter.show(mailbox, list.query);
  },
  onError: showError,
});

const view = new MessageView($("message"), {
  onDelete: (id) => removeMessage(id),
  onToggleRead: (id, read) => markRead(id, read),
  onClose: () => navigate(here()),
  onTagsSaved: (summary) => list.patch(summary),
  onTagFilter: (tag) => filterByTag(tag),
});

const sessions = new SessionsView($("sessions-list"), $("sessions-counts"), $("sessions-prev"), $("sessions-next"), {
  linkFor: (id) => messageHash(id),
});
const live = new Live($("live"));
const switcher = new MailboxSwitcher($("mailboxes"));
const tagFilter = new TagFilter($("tag-filter"), { onToggle: (tag) => filterByTag(tag) });

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function markRead(id, read) {
  view.setRead(read);
  try {
    list.patch(await setRead(id, read));
  } catch (error) {
    showError(error);
  }
}

async function removeMessage(id) {
  const next = list.itemAt(list.indexOf(id) + 1) ?? list.itemAt(list.indexOf(id) - 1);
  try {
    await deleteMessage(id);
  } catch (error) {
    if (error.status !== 404) return showError(error);
  }
  list.refresh();
  navigate(next ? messageHash(next.id) : here());
}

async function openMessage(id) {
  list.select(id);
  split.classList.add("has-message");
  const message = await view.open(id);
  if (message && !message.read) markRead(id, true);
}

// The list, the live subscription and the tag filter follow the open mailbox and the search box.
function scope(query, box) {
  list.setQuery(query, box);
  live.subscribe(query, box);
  switcher.setPolling(Boolean(query || box));
  tagFilter.show(box, query);
}

function route() {
  const where = parseHash(location.hash || "#/");
  const onSessions = where.view === "sessions";
  if (where.mailbox !== mailbox) {
    mailbox = where.mailbox;
    scope(list.query, mailbox);
  }
  switcher.show(mailbox, where.view);
  $("nav-messages").href = here();
  $("nav-sessions").href = here("sessions");
  $("messages-view").hidden = onSessions;
  $("sessions-view").hidden = !onSessions;
  for (const [id, current] of [["nav-messages", !onSessions], ["nav-sessions", onSessions]]) {
    if (current) $(id).setAttribute("aria-current", "page");
    else $(id).removeAttribute("aria-current");
  }
  if (onSessions) {
    sessions.show(mailbox);
    return;
  }
  if (where.id) {
    if (view.openId !== where.id) openMessage(where.id);
  } else {
    split.classList.remove("has-message");
    list.select(null);
    view.close();
  }
}

let searchTimer = null;
function applySearch() {
  clearTimeout(searchTimer);
  // The box searches messages: from the sessions view, a search shows its results.
  if (!$("sessions-view").hidden) navigate(here());
  const query = search.value.trim();
  if (query !== list.query) scope(query, mailbox);
}

function filterByTag(tag) {
  search.value = toggleTag(search.value.trim(), tag);
  applySearch();
}
search.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(applySearch, 250);
});
$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  applySearch();
  $("list").focus();
});

// Both bulk buttons act on what the list shows: the search, in the open mailbox.
function shown() {
  const where = mailbox ? ` in mailbox “${mailbox}”` : "";
  return list.query ? `every message matching “${list.query}”${where}` : `every message${where}`;
}

$("delete-all").addEventListener("click", async () => {
  if (!window.confirm(`Delete ${shown()}?`)) return;
  try {
    await deleteAll(list.query, mailbox);
  } catch (error) {
    return showError(error);
  }
  navigate(here());
  list.refresh();
  switcher.refresh();
});

$("mark-all-read").addEventListener("click", async () => {
  try {
    await markAllRead(list.query, mailbox);
  } catch (error) {
    return showError(error);
  }
  if (view.message) view.setRead(true);
  list.refresh();
  switcher.refresh();
});

$("help-button").addEventListener("click", () => $("help").showModal());

// .eml files dropped anywhere on the page are stored; they then arrive like any message.
acceptDrops(document.body, { onStored: () => list.refresh() });

// Desktop notifications: opt-in (the browser asks once), remembered, and only while the tab is hidden.
const notifyButton = $("notify-button");
const notifyKey = "mailtrap-lite.notify";
function showNotifyState() {
  const on = localStorage.getItem(notifyKey) === "on" && window.Notification?.permission === "granted";
  notifyButton.setAttribute("aria-pressed", String(on));
  notifyButton.hidden = !window.Notification;
}
notifyButton.addEventListener("click", async () => {
  if (notifyButton.getAttribute("aria-pressed") === "true") {
    localStorage.setItem(notifyKey, "off");
  } else if ((await Notification.requestPermission()) === "granted") {
    localStorage.setItem(notifyKey, "on");
  }
  showNotifyState();
});
showNotifyState();

function notify(summary) {
  if (notifyButton.getAttribute("aria-pressed") !== "true" || !document.hidden) return;
  const from = summary.from ? summary.from.name || summary.from.address : summary.envelope.mail_from;
  const note = new Notification(summary.subject || "(no subject)", { body: from ? `From ${from}` : "", tag: summary.id });
  note.onclick = () => {
    window.focus();
    navigate(messageHash(summary.id));
  };
}

// Live events: the list refetches what is on screen; the open message follows what happened to it; the
// mailbox counts and the tag filter are read again.
live.addEventListener("message.new", (event) => {
  list.refresh();
  switcher.refresh();
  if (event.detail.tags?.length) tagFilter.refresh();
  notify(event.detail);
});
live.addEventListener("message.updated", (event) => {
  list.patch(event.detail);
  if (view.openId === event.detail.id) {
    view.setRead(event.detail.read);
    view.setTags(event.detail.tags);
  }
  list.refresh(); // the unread count, and the rows when the query depends on read state
  switcher.refresh();
  tagFilter.refresh();
});
live.addEventListener("messages.updated", (event) => {
  if (view.openId && event.detail.ids.includes(view.openId)) view.setRead(event.detail.read);
  list.refresh();
  switcher.refresh();
});
live.addEventListener("messages.tagged", async (event) => {
  list.refresh();
  tagFilter.refresh();
  const id = view.openId;
  if (id && event.detail.ids.includes(id)) {
    const message = await getMessage(id).catch(() => null);
    if (message && view.openId === id) view.setTags(message.tags);
  }
});
for (const type of ["message.deleted", "messages.cleared"]) {
  live.addEventListener(type, (event) => {
    list.refresh();
    switcher.refresh();
    tagFilter.refresh();
    if (view.openId && event.detail.ids.includes(view.openId)) view.showError("This message was deleted.");
    if (!$("sessions-view").hidden) sessions.refresh();
  });
}
live.addEventListener("session.ended", () => {
  if (!$("sessions-view").hidden) sessions.refresh();
});
live.addEventListener("reconnected", () => {
  list.refresh();
  switcher.refresh();
  tagFilter.refresh();
  if (!$("sessions-view").hidden) sessions.refresh();
});

// Keyboard: single keys act unless the user is typing in a field.
let pendingG = false;
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const typing = event.target.closest?.("input, textarea, select, [contenteditable]");
  if (event.key === "Escape") {
    if (typing) event.target.blur();
    else if (split.classList.contains("has-message")) navigate(here());
    return;
  }
  if (typing || $("help").open) return;
  const key = event.key;
  if (pendingG) {
    pendingG = false;
    if (key === "s") return navigate(here("sessions"));
    if (key === "m") return navigate(here());
  }
  const onMessages = !$("messages-view").hidden;
  const actions = {
    "/": () => search.focus(),
    "?": () => $("help").showModal(),
    g: () => {
      pendingG = true;
    },
    j: () => onMessages && list.move(1),
    k: () => onMessages && list.move(-1),
    u: () => view.openId && markRead(view.openId, !view.message.read),
    Delete: () => view.openId && removeMessage(view.openId),
  };
  if (key >= "1" && key <= "7" && view.openId && onMessages) actions[key] = () => view.selectTabByIndex(Number(key) - 1);
  if (!(key in actions)) return;
  event.preventDefault();
  actions[key]();
});

window.addEventListener("hashchange", route);
mailbox = parseHash(location.hash || "#/").mailbox;
scope("", mailbox);
switcher.load();
live.start();
route();
