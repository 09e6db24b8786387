// The message list: virtual scrolling over pages fetched on demand, so 10,000+ messages cost the DOM
// only the rows on screen. A listbox (aria-activedescendant) driven by the keyboard or the mouse.

import { listMessages } from "./api.js";
import { flagged, formatAddress, formatWhen, h, icon } from "./dom.js";
import { rowChips } from "./tags.js";

const ROW_HEIGHT = 76;
const PAGE_SIZE = 100;
const OVERSCAN = 8;
const REFRESH_EVERY_MS = 150;

export class MessageList {
  constructor(root, { onOpen, onCounts, onError, onTag }) {
    this.root = root;
    this.onOpen = onOpen;
    this.onTag = onTag;
    this.onCounts = onCounts;
    this.onError = onError;
    this.spacer = h("div", { class: "list-spacer" });
    root.append(this.spacer);
    this.query = "";
    this.mailbox = null; // null: every mailbox
    this.total = 0;
    this.unread = 0;
    this.loaded = false;
    this.pages = new Map(); // page index -> {generation, items}
    this.inflight = new Map(); // page index -> generation being fetched
    this.generation = 0;
    this.activeIndex = -1;
    this.pendingOpen = -1;
    this.selectedId = null;
    this.frame = 0;
    this.refreshTimer = null;
    this.lastRefresh = 0;
    root.addEventListener("scroll", () => this.scheduleRender());
    root.addEventListener("click", (event) => {
      const chip = event.target.closest(".tag-chip");
      if (chip) return this.onTag(chip.dataset.tag);
      const row = event.target.closest("[role=option]");
      if (row) this.activate(Number(row.dataset.index), true);
    });
    root.addEventListener("keydown", (event) => this.onKey(event));
    new ResizeObserver(() => this.scheduleRender()).observe(root);
  }

  setQuery(query, mailbox = this.mailbox) {
    this.query = query;
    this.mailbox = mailbox;
    this.pages.clear();
    this.inflight.clear();
    this.generation += 1;
    this.activeIndex = -1;
    this.root.scrollTop = 0;
    this.loaded = false;
    this.fetchVisible();
  }

  // Many events may arrive at once (a burst of mail): refetch what is on screen at most every 150 ms.
  refresh() {
    if (this.refreshTimer) return;
    const wait = Math.max(0, this.lastRefresh + REFRESH_EVERY_MS - performance.now());
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.lastRefresh = performance.now();
      this.generation += 1;
      this.fetchVisible();
    }, wait);
  }

  visibleRange() {
    const first = Math.floor(this.root.scrollTop / ROW_HEIGHT);
    const count = Math.ceil(this.root.clientHeight / ROW_HEIGHT) + 1;
    const start = Math.max(0, first - OVERSCAN);
    const end = Math.min(Math.max(this.total, 1), first + count + OVERSCAN);
    return [start, end];
  }

  fetchVisible() {
    const [start, end] = this.visibleRange();
    for (let page = Math.floor(start / PAGE_SIZE); page <= Math.floor((end - 1) / PAGE_SIZE); page += 1) {
      this.ensurePage(page);
    }
  }

  async ensurePage(page) {
    const generation = this.generation;
    const cached = this.pages.get(page);
    if (cached?.generation === generation || this.inflight.get(page) === generation) return;
    this.inflight.set(page, generation);
    const { query, mailbox } = this;
    const current = () => query === this.query && mailbox === this.mailbox;
    try {
      const result = await listMessages(query, mailbox, PAGE_SIZE, page * PAGE_SIZE);
      if (!current()) return;
      const newer = this.pages.get(page);
      if (!newer || newer.generation <= generation) {
        this.pages.set(page, { generation, items: result.messages });
      }
      this.total = result.total;
      this.unread = result.unread;
      this.loaded = true;
      this.onCounts(this.total, this.unread, null);
      this.openPending();
      this.scheduleRender();
    } catch (error) {
      if (current()) this.onError(error);
    } finally {
      if (this.inflight.get(page) === generation) this.inflight.delete(page);
    }
  }

  itemAt(index) {
    const page = this.pages.get(Math.floor(index / PAGE_SIZE));
    return page?.items[index % PAGE_SIZE] ?? null;
  }

  indexOf(id) {
    for (const [page, { items }] of this.pages) {
      const at = items.findIndex((item) => item.id === id);
      if (at >= 0) return page * PAGE_SIZE + at;
    }
    return -1;
  }

  scheduleRender() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    this.spacer.style.height = `${this.total * ROW_HEIGHT}px`;
    const [start, end] = this.visibleRange();
    const rows = [];
    for (let index = start; index < Math.min(end, this.total); index += 1) {
      const item = this.itemAt(index);
      const stale = this.pages.get(Math.floor(index / PAGE_SIZE))?.generation !== this.generation;
      if (!item || stale) this.ensurePage(Math.floor(index / PAGE_SIZE));
      const row = item ? this.row(item, index) : this.placeholder(index);
      row.style.transform = `translateY(${index * ROW_HEIGHT}px)`; // CSSOM: the page's CSP forbids style=""
      rows.push(row);
    }
    this.spacer.replaceChildren(...rows);
    if (this.selectedId) {
      const at = this.indexOf(this.selectedId);
      if (at >= 0) this.activeIndex = at;
    }
    const active = this.activeIndex >= start && this.activeIndex < end;
    if (active) this.root.setAttribute("aria-activedescendant", `row-${this.activeIndex}`);
    else this.root.removeAttribute("aria-activedescendant");
    document.getElementById("list-empty").hidden = !this.loaded || this.total > 0;
  }

  row(item, index) {
    const sender = item.from ? item.from.name || item.from.address : item.envelope.mail_from || "(no sender)";
    const selected = item.id === this.selectedId;
    const active = index === this.activeIndex;
    const classes = ["row", item.read ? "read" : "unread", active ? "active" : ""].join(" ");
    return h(
      "div",
      {
        id: `row-${index}`,
        class: classes,
        role: "option",
        "aria-selected": selected ? "true" : "false",
        "aria-setsize": this.total,
        "aria-posinset": index + 1,
        "data-index": index,
        "data-id": item.id,
        title: item.from ? formatAddress(item.from) : "",
      },
      h(
        "div",
        { class: "row-top" },
        item.read ? null : h("span", { class: "unread-dot", title: "Unread" }, h("span", { class: "visually-hidden", text: "Unread: " })),
        h("span", { class: "row-from", text: sender }),
        rowChips(item.tags),
        item.attachments
          ? h("span", { class: "row-clip", title: `${item.attachments} attachment(s)` }, icon("clip", `${item.attachments} attachment(s)`))
          : null,
        flagged(item.warnings).length
          ? h("span", { class: "row-warn", title: `${flagged(item.warnings).length} warning(s)` }, icon("warning", `${flagged(item.warnings).length} warning(s)`))
          : null,
        h("time", { class: "row-time", datetime: item.received_at, text: formatWhen(item.received_at) }),
      ),
      h("div", { class: "row-subject", text: item.subject || "(no subject)" }),
      h("div", { class: "row-snippet", text: item.snippet }),
    );
  }

  placeholder(index) {
    return h("div", {
      class: "row loading",
      role: "option",
      "aria-selected": "false",
      "aria-busy": "true",
      id: `row-${index}`,
      "data-index": index,
      text: "Loading…",
    });
  }

  select(id) {
    this.selectedId = id;
    const at = id ? this.indexOf(id) : -1;
    if (at >= 0) this.activeIndex = at;
    this.render();
  }

  patch(summary) {
    for (const { items } of this.pages.values()) {
      const at = items.findIndex((item) => item.id === summary.id);
      if (at >= 0) items[at] = summary;
    }
    this.scheduleRender();
  }

  activate(index, open) {
    if (index < 0 || index >= this.total) return;
    this.activeIndex = index;
    this.scrollToIndex(index);
    const item = this.itemAt(index);
    // A row far away (End, PageDown) may not be loaded yet: open it when its page arrives.
    this.pendingOpen = open && !item ? index : -1;
    if (open && item) this.onOpen(item.id);
    this.render();
  }

  openPending() {
    const item = this.pendingOpen >= 0 ? this.itemAt(this.pendingOpen) : null;
    if (item) {
      this.pendingOpen = -1;
      this.onOpen(item.id);
    }
  }

  move(delta) {
    const from = this.activeIndex < 0 ? (delta > 0 ? -1 : this.total) : this.activeIndex;
    this.activate(Math.min(this.total - 1, Math.max(0, from + delta)), true);
  }

  scrollToIndex(index) {
    const top = index * ROW_HEIGHT;
    if (top < this.root.scrollTop) this.root.scrollTop = top;
    else if (top + ROW_HEIGHT > this.root.scrollTop + this.root.clientHeight) {
      this.root.scrollTop = top + ROW_HEIGHT - this.root.clientHeight;
    }
  }

  onKey(event) {
    const pageRows = Math.max(1, Math.floor(this.root.clientHeight / ROW_HEIGHT) - 1);
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: pageRows, PageUp: -pageRows };
    if (event.key in moves) this.move(moves[event.key]);
    else if (event.key === "Home") this.activate(0, true);
    else if (event.key === "End") this.activate(this.total - 1, true);
    else if (event.key === "Enter") this.activate(this.activeIndex, true);
    else return;
    event.preventDefault();
    event.stopPropagation();
  }
}
