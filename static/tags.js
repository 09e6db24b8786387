// Tags: the chips on rows and in the message view, the tag filter above the list, and tag editing.
// A tag filters the list as the search term tag:NAME, so the search box always says what is shown.

import { listTags, setTags } from "./api.js";
import { clear, h, keepingFocus } from "./dom.js";

const ROW_CHIPS = 2; // a row is one line high: more tags show as "+N"

// The search term for a tag, quoted when the tag holds a space, a quote or a backslash.
export function tagTerm(tag) {
  return /[\s"\\]/.test(tag) ? `tag:"${tag.replace(/[\\"]/g, "\\$&")}"` : `tag:${tag}`;
}

function termPattern(tag) {
  const escaped = tagTerm(tag).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|\\s)${escaped}(?=\\s|$)`, "i");
}

export function hasTag(query, tag) {
  return termPattern(tag).test(query);
}

// The query with the tag's term added, or removed when it is there already.
export function toggleTag(query, tag) {
  const pattern = termPattern(tag);
  if (pattern.test(query)) return query.replace(pattern, " ").replace(/\s+/g, " ").trim();
  return query ? `${query} ${tagTerm(tag)}` : tagTerm(tag);
}

// Chips for a list row: plain spans (the row is one option of a listbox); a click on one filters.
export function rowChips(tags) {
  if (!tags?.length) return null;
  const shown = tags.slice(0, ROW_CHIPS).map((tag) =>
    h("span", { class: "tag-chip", "data-tag": tag, title: `Show only messages tagged “${tag}”`, text: tag }),
  );
  const more = tags.length - shown.length;
  return h("span", { class: "row-tags" }, shown, more > 0 ? h("span", { class: "tag-more", title: tags.slice(ROW_CHIPS).join(", "), text: `+${more}` }) : null);
}

// The tag filter: every tag of the open mailbox with its count; pressed when the search has its term.
export class TagFilter {
  constructor(root, { onToggle }) {
    this.root = root;
    this.onToggle = onToggle;
    this.mailbox = undefined; // none loaded yet
    this.query = "";
    this.tags = [];
    this.timer = null;
    root.addEventListener("click", (event) => {
      const chip = event.target.closest("[data-tag]");
      if (chip) this.onToggle(chip.dataset.tag);
    });
  }

  show(mailbox, query) {
    const reload = mailbox !== this.mailbox;
    this.mailbox = mailbox;
    this.query = query;
    if (reload) this.load();
    else this.render();
  }

  refresh() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), 200);
  }

  async load() {
    const mailbox = this.mailbox;
    try {
      const result = await listTags(mailbox);
      if (mailbox !== this.mailbox) return;
      this.tags = result.tags;
    } catch {
      this.tags = []; // the filter is a convenience: the search box still takes tag:NAME
    }
    this.render();
  }

  render() {
    this.root.hidden = this.tags.length === 0;
    keepingFocus(this.root, "data-tag", () => this.fill());
  }

  fill() {
    clear(
      this.root,
      h("span", { class: "strip-label", text: "Tags" }),
      this.tags.map(({ name, count }) =>
        h(
          "button",
          { type: "button", class: "tag-chip", "data-tag": name, "aria-pressed": String(hasTag(this.query, name)) },
          name,
          h("span", { class: "count", text: String(count) }),
          h("span", { class: "visually-hidden", text: count === 1 ? " message" : " messages" }),
        ),
      ),
    );
  }
}

// The tags of the open message: chips that filter, a remove button each, and a field to add one.
// The server normalises tags and refuses bad ones with a 400 whose text is shown as it is.
export class TagEditor {
  constructor(message, { onSaved, onFilter }) {
    this.message = message;
    this.onSaved = onSaved;
    this.onFilter = onFilter;
    this.chips = h("ul", { class: "tag-list", "aria-label": "Tags" });
    this.input = h("input", { type: "text", class: "tag-input", "aria-label": "Add a tag", placeholder: "Add tag", autocomplete: "off", spellcheck: "false" });
    this.error = h("p", { class: "tag-error error", role: "alert" });
    const form = h(
      "form",
      { class: "tag-add", onsubmit: (event) => this.add(event) },
      this.input,
      h("button", { type: "submit", text: "Add" }),
    );
    this.root = h("div", { class: "tag-editor" }, h("span", { class: "strip-label", text: "Tags" }), this.chips, form, this.error);
    this.render();
  }

  setTags(tags) {
    this.message.tags = tags;
    this.render();
  }

  render() {
    const tags = this.message.tags ?? [];
    clear(
      this.chips,
      tags.length
        ? tags.map((tag) =>
            h(
              "li",
              { class: "tag-chip editable" },
              h("button", { type: "button", class: "tag-name", title: `Show only messages tagged “${tag}”`, text: tag, onclick: () => this.onFilter(tag) }),
              h("button", { type: "button", class: "tag-remove", "aria-label": `Remove tag ${tag}`, text: "×", onclick: () => this.remove(tag) }),
            ),
          )
        : h("li", { class: "muted no-tags", text: "none" }),
    );
  }

  remove(tag) {
    this.input.focus(); // the button goes with its chip
    this.save((this.message.tags ?? []).filter((t) => t !== tag));
  }

  add(event) {
    event.preventDefault();
    const tag = this.input.value;
    if (!tag.trim()) return;
    this.save([...(this.message.tags ?? []), tag]).then((saved) => {
      if (saved) this.input.value = "";
    });
  }

  async save(tags) {
    const id = this.message.id;
    this.error.textContent = "";
    this.input.removeAttribute("aria-invalid");
    try {
      const summary = await setTags(id, tags);
      if (id !== this.message.id) return false;
      this.setTags(summary.tags);
      this.onSaved(summary);
      return true;
    } catch (error) {
      this.error.textContent = error.message;
      this.input.setAttribute("aria-invalid", "true");
      return false;
    }
  }
}
