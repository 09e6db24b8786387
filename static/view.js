// One message: its header, actions, and the tabs of panels.js (WAI-ARIA tabs pattern).

import { getMessage, rawUrl } from "./api.js";
import { clear, flagged, formatAddresses, formatFull, formatSize, h } from "./dom.js";
import { TABS } from "./panels.js";
import { releaseForm } from "./release.js";
import { TagEditor } from "./tags.js";

export class MessageView {
  constructor(root, { onDelete, onToggleRead, onClose, onTagsSaved, onTagFilter }) {
    this.root = root;
    this.onDelete = onDelete;
    this.onToggleRead = onToggleRead;
    this.onClose = onClose;
    this.onTagsSaved = onTagsSaved;
    this.onTagFilter = onTagFilter;
    this.tags = null; // the TagEditor of the open message
    this.message = null;
    this.tab = null; // the tab the user chose last; kept across messages
    this.token = 0;
    this.preview = { width: "100%" };
  }

  get openId() {
    return this.message?.id ?? null;
  }

  async open(id) {
    const token = ++this.token;
    clear(this.root, h("p", { class: "placeholder", text: "Loading…" }));
    let message;
    try {
      message = await getMessage(id);
    } catch (error) {
      if (token === this.token) this.showError(error.status === 404 ? "This message no longer exists." : error.message);
      return null;
    }
    if (token !== this.token) return null;
    this.message = message;
    this.render();
    return message;
  }

  close() {
    this.token += 1;
    this.message = null;
    clear(this.root, h("div", { class: "placeholder" }, h("p", { text: "Select a message to read it." })));
  }

  showError(text) {
    this.message = null;
    clear(this.root, h("div", { class: "placeholder" }, h("p", { text })));
  }

  setRead(read) {
    if (!this.message) return;
    this.message.read = read;
    const button = this.root.querySelector(".toggle-read");
    if (button) button.textContent = read ? "Mark unread" : "Mark read";
  }

  setTags(tags) {
    if (this.message) this.tags.setTags(tags);
  }

  render() {
    const m = this.message;
    this.tags = new TagEditor(m, { onSaved: this.onTagsSaved, onFilter: this.onTagFilter });
    const fields = [
      ["From", m.from ? formatAddresses([m.from]) : m.envelope.mail_from || "(none)"],
      ["To", formatAddresses(m.to)],
      ["Cc", formatAddresses(m.cc)],
      ["Bcc", formatAddresses(m.bcc)],
      ["Date", m.date ? formatFull(m.date) : "(no Date header)"],
      ["Received", `${formatFull(m.received_at)} · ${formatSize(m.size)}`],
      ["Mailbox", m.mailbox ? `${m.mailbox} (${m.mailbox_rule})` : ""],
    ].filter(([, value]) => value);
    const header = h(
      "header",
      { class: "message-header" },
      h(
        "div",
        { class: "message-actions" },
        h("button", { type: "button", class: "back", text: "← Messages", onclick: () => this.onClose() }),
        h("button", { type: "button", class: "toggle-read", text: m.read ? "Mark unread" : "Mark read", onclick: () => this.onToggleRead(m.id, !m.read) }),
        h("a", { class: "button", href: rawUrl(m.id), download: `${m.id}.eml`, text: "Download .eml" }),
        h("button", { type: "button", class: "release", "aria-expanded": "false", "aria-controls": "release-form", text: "Release…", onclick: (event) => this.toggleRelease(event.currentTarget) }),
        h("button", { type: "button", class: "danger", text: "Delete", onclick: () => this.onDelete(m.id) }),
      ),
      h("h2", { class: "subject", id: "message-subject", text: m.subject || "(no subject)" }),
      h("dl", { class: "fields" }, fields.map(([name, value]) => [h("dt", { text: name }), h("dd", { text: value })])),
      this.tags.root,
      flagged(m.warnings).length
        ? h("p", { class: "warning-banner" }, `⚠ ${flagged(m.warnings).length} warning${flagged(m.warnings).length === 1 ? "" : "s"}: `, flagged(m.warnings).map((w) => w.code).join(", "), " — see Envelope.")
        : null,
    );
    const tablist = h("div", { class: "tabs", role: "tablist", "aria-label": "Message parts" });
    const panel = h("div", { class: "tab-panel", role: "tabpanel", id: "message-panel", tabindex: "0" });
    for (const tab of TABS) {
      // The number the list's paper clip shows first; inline parts (images in the HTML) are counted apart.
      const count = tab.key === "attachments" ? attachmentCount(m) : "";
      tablist.append(
        h("button", {
          type: "button",
          role: "tab",
          id: `tab-${tab.key}`,
          "data-tab": tab.key,
          "aria-controls": "message-panel",
          "aria-selected": "false",
          tabindex: "-1",
          text: count ? `${tab.label} (${count})` : tab.label,
          onclick: () => this.showTab(tab.key),
        }),
      );
    }
    tablist.addEventListener("keydown", (event) => this.onTabKey(event));
    clear(this.root, header, tablist, panel);
    this.root.setAttribute("aria-labelledby", "message-subject");
    this.showTab(this.tab && (this.tab !== "html" || m.html !== null) ? this.tab : m.html !== null ? "html" : "text", false);
  }

  async showTab(key, remember = true) {
    if (!this.message) return;
    if (remember) this.tab = key;
    const message = this.message;
    const token = this.token;
    for (const button of this.root.querySelectorAll("[role=tab]")) {
      const selected = button.dataset.tab === key;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
    }
    const panel = this.root.querySelector("#message-panel");
    panel.setAttribute("aria-labelledby", `tab-${key}`);
    panel.dataset.tab = key;
    const tab = TABS.find((t) => t.key === key);
    clear(panel, h("p", { class: "muted", text: "Loading…" }));
    try {
      const content = await tab.render(message, this.preview);
      if (token === this.token && panel.dataset.tab === key) clear(panel, content);
    } catch (error) {
      if (token === this.token && panel.dataset.tab === key) clear(panel, h("p", { class: "error", text: error.message }));
    }
  }

  toggleRelease(button) {
    const open = this.root.querySelector("#release-form");
    if (open) {
      open.remove();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    const form = releaseForm(this.message);
    this.root.querySelector(".message-header").append(form);
    button.setAttribute("aria-expanded", "true");
    form.querySelector("input").focus();
  }

  selectTabByIndex(index) {
    const tab = TABS[index];
    if (tab && this.message) {
      this.showTab(tab.key);
      this.root.querySelector(`#tab-${tab.key}`).focus();
    }
  }

  onTabKey(event) {
    const keys = TABS.map((t) => t.key);
    const current = keys.indexOf(this.root.querySelector("[role=tab][aria-selected=true]")?.dataset.tab);
    const moves = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: keys.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    this.selectTabByIndex((moves[event.key] + keys.length) % keys.length);
  }
}

function attachmentCount(m) {
  const counts = [];
  if (m.attachments.length) counts.push(String(m.attachments.length));
  if (m.inline.length) counts.push(`${m.inline.length} inline`);
  return counts.join(", ");
}
