// The sessions view: every SMTP connection, including those that delivered nothing, and every POP3
// connection that read mail, newest first. In one mailbox: the sessions that delivered mail still there.

import { listSessions } from "./api.js";
import { clear, formatFull, h } from "./dom.js";
import { renderTranscript } from "./transcript.js";

const PAGE_SIZE = 50;

export class SessionsView {
  constructor(root, counts, prev, next, { linkFor }) {
    this.root = root;
    this.linkFor = linkFor;
    this.mailbox = null;
    this.counts = counts;
    this.prev = prev;
    this.next = next;
    this.offset = 0;
    this.total = 0;
    this.open = new Set(); // ids whose transcript is expanded
    this.timer = null;
    prev.addEventListener("click", () => this.page(-PAGE_SIZE));
    next.addEventListener("click", () => this.page(PAGE_SIZE));
  }

  page(delta) {
    this.offset = Math.max(0, Math.min(this.offset + delta, Math.max(0, this.total - 1)));
    this.load();
  }

  show(mailbox) {
    if (mailbox !== this.mailbox) this.offset = 0;
    this.mailbox = mailbox;
    this.load();
  }

  refresh() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), 200);
  }

  async load() {
    let result;
    try {
      result = await listSessions(this.mailbox, PAGE_SIZE, this.offset);
    } catch (error) {
      clear(this.root, h("p", { class: "error", text: error.message }));
      return;
    }
    this.total = result.total;
    const last = Math.min(this.offset + result.count, this.total);
    const where = this.mailbox ? ` in mailbox ${this.mailbox}` : "";
    this.counts.textContent = this.total ? `${this.offset + 1}–${last} of ${this.total}${where}` : `No sessions yet${where}`;
    this.prev.disabled = this.offset === 0;
    this.next.disabled = last >= this.total;
    // The list carries each session's transcript already: expanding one costs no request.
    const cards = result.sessions.map((session) => this.card(session));
    clear(this.root, cards.length ? h("ol", { class: "session-list" }, cards) : null);
  }

  card(session) {
    const delivered = session.message_ids.length;
    const body = h("div", { class: "session-transcript", id: `transcript-${session.id}` });
    const expanded = this.open.has(session.id);
    const toggle = h("button", {
      type: "button",
      "aria-expanded": String(expanded),
      "aria-controls": body.id,
      text: expanded ? "Hide transcript" : "Show transcript",
      onclick: () => {
        const opening = !this.open.has(session.id);
        if (opening) this.open.add(session.id);
        else this.open.delete(session.id);
        toggle.setAttribute("aria-expanded", String(opening));
        toggle.textContent = opening ? "Hide transcript" : "Show transcript";
        clear(body, opening ? renderTranscript(session) : null);
      },
    });
    if (expanded) clear(body, renderTranscript(session));
    // Sessions that read mail (POP3) name who logged in; only SMTP sessions deliver anything.
    const smtp = (session.protocol || "smtp") === "smtp";
    const who = smtp
      ? (session.helo ? `HELO ${session.helo}` : "no HELO")
      : (session.auth ? `user ${session.auth.username}` : "not logged in");
    return h(
      "li",
      { class: `session ${delivered || !smtp ? "" : "empty-session"}` },
      h(
        "div",
        { class: "session-head" },
        h("time", { datetime: session.started_at, text: formatFull(session.started_at) }),
        h("span", { class: "badge protocol", text: (session.protocol || "smtp").toUpperCase() }),
        h("span", { class: "peer", text: session.peer }),
        h("span", { class: "helo", text: who }),
        !smtp
          ? null
          : delivered
            ? h("span", { class: "badge ok", text: `${delivered} message${delivered === 1 ? "" : "s"}` })
            : h("span", { class: "badge none", text: "delivered nothing" }),
        session.error ? h("span", { class: "badge bad", text: session.error }) : null,
        session.ended_at ? null : h("span", { class: "badge live-badge", text: "open" }),
        session.message_ids.map((id, n) => h("a", { href: this.linkFor(id), text: `message ${n + 1}` })),
        toggle,
      ),
      body,
    );
  }
}
