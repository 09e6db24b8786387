// The page: wires the list, the message view, the sessions view and the live connection together.
// Routes live in the URL fragment: #/ (messages), #/messages/<id>, #/sessions.

import { deleteAll, deleteMessage, setRead } from "./api.js";
import { acceptDrops } from "./drop.js";
import { MessageList } from "./list.js";
import { Live } from "./live.js";
import { SessionsView } from "./sessions.js";
import { MessageView } from "./view.js";

const $ = (id) => document.getElementById(id);
const split = $("messages-view");
const search = $("search");
const searchError = $("search-error");

function showError(error) {
  searchError.textContent = error.message;
  search.setAttribute("aria-invalid", "true");
}

const list = new MessageList($("list"), {
  onOpen: (id) => navigate(`#/messages/${encodeURIComponent(id)}`),
  onCounts: (total, unread) => {
    searchError.textContent = "";
    search.removeAttribute("aria-invalid");
    $("counts").textContent = `${total} message${total === 1 ? "" : "s"} · ${unread} unread`;
    document.title = unread ? `(${unread}) mailtrap-lite` : "mailtrap-lite";
    $("delete-all").disabled = total === 0;
  },
  onError: showError,
});

const view = new MessageView($("message"), {
  onDelete: (id) => removeMessage(id),
  onToggleRead: (id, read) => markRead(id, read),
  onClose: () => navigate("#/"),
});

const sessions = new SessionsView($("sessions-list"), $("sessions-counts"), $("sessions-prev"), $("sessions-next"));
const live = new Live($("live"));

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
  navigate(next ? `#/messages/${encodeURIComponent(next.id)}` : "#/");
}

async function openMessage(id) {
  list.select(id);
  split.classList.add("has-message");
  const message = await view.open(id);
  if (message && !message.read) markRead(id, true);
}

function route() {
  const hash = location.hash || "#/";
  const onSessions = hash.startsWith("#/sessions");
  $("messages-view").hidden = onSessions;
  $("sessions-view").hidden = !onSessions;
  for (const [id, current] of [["nav-messages", !onSessions], ["nav-sessions", onSessions]]) {
    if (current) $(id).setAttribute("aria-current", "page");
    else $(id).removeAttribute("aria-current");
  }
  if (onSessions) {
    sessions.load();
    return;
  }
  const match = /^#\/messages\/(.+)$/.exec(hash);
  if (match) {
    const id = decodeURIComponent(match[1]);
    if (view.openId !== id) openMessage(id);
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
  if (!$("sessions-view").hidden) navigate("#/");
  const query = search.value.trim();
  if (query === list.query) return;
  list.setQuery(query);
  live.subscribe(query);
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

$("delete-all").addEventListener("click", async () => {
  const query = list.query;
  const what = query ? `every message matching “${query}”` : "every message";
  if (!window.confirm(`Delete ${what}?`)) return;
  try {
    await deleteAll(query);
  } catch (error) {
    return showError(error);
  }
  navigate("#/");
  list.refresh();
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
    navigate(`#/messages/${encodeURIComponent(summary.id)}`);
  };
}

// Live events: the list refetches what is on screen; the open message follows what happened to it.
live.addEventListener("message.new", (event) => {
  list.refresh();
  notify(event.detail);
});
live.addEventListener("message.updated", (event) => {
  list.patch(event.detail);
  if (view.openId === event.detail.id) view.setRead(event.detail.read);
  list.refresh(); // the unread count, and the rows when the query depends on read state
});
for (const type of ["message.deleted", "messages.cleared"]) {
  live.addEventListener(type, (event) => {
    list.refresh();
    if (view.openId && event.detail.ids.includes(view.openId)) view.showError("This message was deleted.");
    if (!$("sessions-view").hidden) sessions.refresh();
  });
}
live.addEventListener("session.ended", () => {
  if (!$("sessions-view").hidden) sessions.refresh();
});
live.addEventListener("reconnected", () => {
  list.refresh();
  if (!$("sessions-view").hidden) sessions.refresh();
});

// Keyboard: single keys act unless the user is typing in a field.
let pendingG = false;
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const typing = event.target.closest?.("input, textarea, select, [contenteditable]");
  if (event.key === "Escape") {
    if (typing) event.target.blur();
    else if (split.classList.contains("has-message")) navigate("#/");
    return;
  }
  if (typing || $("help").open) return;
  const key = event.key;
  if (pendingG) {
    pendingG = false;
    if (key === "s") return navigate("#/sessions");
    if (key === "m") return navigate("#/");
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
list.setQuery("");
live.start();
route();
