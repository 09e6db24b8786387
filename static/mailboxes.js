// The mailbox switcher: "All" and each mailbox with its unread count, as links (#/mailbox/<name>/), so
// that the open mailbox is in the URL and a link to it can be shared. Shown once there is more than one
// mailbox, or when the URL names one.

import { listMailboxes } from "./api.js";
import { clear, h, keepingFocus } from "./dom.js";

const enc = encodeURIComponent;
// While the live connection is narrowed to one mailbox or a search, other mailboxes' new mail does not
// reach this page: their counts are re-read this often instead.
const POLL_MS = 15000;

// The fragment for a view (`rest`: "", "messages/<id>", "sessions") of a mailbox (null: every mailbox).
export function hashFor(mailbox, rest = "") {
  return mailbox ? `#/mailbox/${enc(mailbox)}/${rest}` : `#/${rest}`;
}

// The inverse: {mailbox, view: "messages" | "sessions", id}. Mailbox names are case-insensitive.
export function parseHash(hash) {
  let rest = hash.replace(/^#\/?/, "");
  let mailbox = null;
  const scoped = /^mailbox\/([^/]+)\/?(.*)$/.exec(rest);
  if (scoped) {
    mailbox = decodeURIComponent(scoped[1]).toLowerCase();
    rest = scoped[2];
  }
  if (/^sessions\/?$/.test(rest)) return { mailbox, view: "sessions", id: null };
  const message = /^messages\/(.+)$/.exec(rest);
  return { mailbox, view: "messages", id: message ? decodeURIComponent(message[1]) : null };
}

export class MailboxSwitcher {
  constructor(root) {
    this.root = root;
    this.current = null;
    this.view = "messages";
    this.mailboxes = [];
    this.timer = null;
    this.poll = null;
    document.addEventListener("visibilitychange", () => this.setPolling(this.polling));
    this.polling = false;
  }

  show(mailbox, view) {
    this.current = mailbox;
    this.view = view;
    this.render();
  }

  // Many events may arrive at once: read the counts at most every 300 ms.
  refresh() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.load();
    }, 300);
  }

  setPolling(on) {
    this.polling = on;
    clearInterval(this.poll);
    this.poll = on && !document.hidden ? setInterval(() => this.load(), POLL_MS) : null;
  }

  async load() {
    try {
      this.mailboxes = (await listMailboxes()).mailboxes;
    } catch {
      return; // keep the last counts; the list shows the server's error
    }
    this.render();
  }

  render() {
    const boxes = [...this.mailboxes];
    if (this.current && !boxes.some((box) => box.name === this.current)) {
      boxes.push({ name: this.current, total: 0, unread: 0 }); // a shared link to a mailbox still empty
      boxes.sort((a, b) => a.name.localeCompare(b.name));
    }
    this.root.hidden = boxes.length < 2 && !this.current;
    const rest = this.view === "sessions" ? "sessions" : "";
    const unread = this.mailboxes.reduce((sum, box) => sum + box.unread, 0);
    const link = (name, label, count) =>
      h(
        "a",
        {
          href: hashFor(name, rest),
          class: "mailbox",
          "data-mailbox": name ?? "",
          "aria-current": name === this.current ? "page" : null,
          title: count ? `${count} unread` : "no unread messages",
        },
        h("span", { class: "mailbox-name", text: label }),
        count ? h("span", { class: "count", text: String(count) }) : null,
        count ? h("span", { class: "visually-hidden", text: " unread" }) : null,
      );
    keepingFocus(this.root, "data-mailbox", () =>
      clear(
        this.root,
        h("span", { class: "strip-label", text: "Mailboxes" }),
        link(null, "All", unread),
        boxes.map((box) => link(box.name, box.name, box.unread)),
      ),
    );
  }
}
