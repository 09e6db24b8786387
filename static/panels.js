// The message view's tab panels. Each takes the full message JSON and returns a Node (or a promise).

import { blockedRemote, getMessageSession, htmlUrl, partUrl, rawText, rawUrl } from "./api.js";
import { formatAddress, formatSize, h, replyClass } from "./dom.js";
import { renderTranscript } from "./transcript.js";

const RAW_SHOWN_BYTES = 2 * 1024 * 1024;
const WIDTHS = [
  ["Phone", "375px"],
  ["Tablet", "768px"],
  ["Desktop", "100%"],
];

// The preview frame: no allow-scripts and no allow-same-origin, so the mail runs nothing and cannot reach
// this page; its own response carries the CSP that blocks remote fetches.
function previewFrame(id, remote) {
  return h("iframe", {
    class: "preview",
    src: htmlUrl(id, remote),
    sandbox: "allow-popups allow-popups-to-escape-sandbox",
    referrerpolicy: "no-referrer",
    title: "HTML preview of the message",
  });
}

function htmlPanel(message, state) {
  if (message.html === null) return h("p", { class: "muted", text: "This message has no HTML body." });
  let frame = previewFrame(message.id, false);
  const stage = h("div", { class: "preview-stage" }, frame);
  stage.style.setProperty("--preview-width", state.width);
  const widthButtons = WIDTHS.map(([label, width]) =>
    h("button", {
      type: "button",
      class: "toggle",
      "aria-pressed": String(state.width === width),
      text: label,
      onclick: (event) => {
        state.width = width;
        stage.style.setProperty("--preview-width", width);
        for (const button of event.target.parentElement.children) {
          button.setAttribute("aria-pressed", String(button === event.target));
        }
      },
    }),
  );
  const notice = h("p", { class: "remote-notice", "aria-live": "polite" });
  blockedRemote(message.id).then((count) => {
    if (!count) return;
    const button = h("button", {
      type: "button",
      text: "Load remote content",
      onclick: () => {
        const loaded = previewFrame(message.id, true);
        frame.replaceWith(loaded);
        frame = loaded;
        notice.replaceChildren(h("span", { text: "Remote content loaded: the sender can now tell that this message was opened." }));
      },
    });
    notice.replaceChildren(
      h("span", { text: `${count} remote image${count === 1 ? "" : "s"} or stylesheet${count === 1 ? "" : "s"} blocked. ` }),
      button,
    );
  });
  return h(
    "div",
    { class: "html-panel" },
    h("div", { class: "panel-toolbar" }, h("div", { class: "widths", role: "group", "aria-label": "Preview width" }, widthButtons), notice),
    stage,
  );
}

function textPanel(message) {
  if (message.text === null) return h("p", { class: "muted", text: "This message has no plain-text body." });
  return h("pre", { class: "text-body", text: message.text });
}

function headersPanel(message) {
  return h(
    "table",
    { class: "headers" },
    h("caption", { class: "visually-hidden", text: "Message headers" }),
    h("tbody", {}, message.headers.map(([name, value]) => h("tr", {}, h("th", { scope: "row", text: name }), h("td", { text: value })))),
  );
}

async function rawPanel(message) {
  const { text, truncated } = await rawText(message.id, RAW_SHOWN_BYTES);
  return h(
    "div",
    {},
    h("div", { class: "panel-toolbar" }, h("a", { class: "button", href: rawUrl(message.id), download: `${message.id}.eml`, text: "Download .eml" })),
    truncated ? h("p", { class: "muted", text: `Showing the first ${formatSize(RAW_SHOWN_BYTES)}; download for the rest.` }) : null,
    h("pre", { class: "raw", text }),
  );
}

function extension(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 && name.length - dot <= 6 ? name.slice(dot + 1).toUpperCase() : "FILE";
}

function attachmentCard(message, part, kind) {
  const name = part.filename || `part ${part.part_id}`;
  const url = partUrl(message.id, part.part_id);
  const isImage = part.content_type.startsWith("image/");
  return h(
    "li",
    { class: "attachment" },
    isImage
      ? h("img", { class: "thumb", src: url, alt: "", loading: "lazy" })
      : h("span", { class: "thumb kind", "aria-hidden": "true", text: extension(name) }),
    h(
      "div",
      { class: "attachment-info" },
      h("span", { class: "filename", text: name }),
      h("span", { class: "muted", text: `${part.content_type} · ${formatSize(part.size)}${kind === "inline" ? " · inline" : ""}` }),
    ),
    h("a", { class: "button", href: url, download: part.filename || "", text: "Download", "aria-label": `Download ${name}` }),
  );
}

function attachmentsPanel(message) {
  const cards = [
    ...message.attachments.map((part) => attachmentCard(message, part, "attachment")),
    ...message.inline.map((part) => attachmentCard(message, part, "inline")),
  ];
  if (!cards.length) return h("p", { class: "muted", text: "No attachments." });
  return h("ul", { class: "attachments" }, cards);
}

function code(value) {
  return h("span", { class: `reply-code ${replyClass(value)}`, text: String(value) });
}

function envelopePanel(message) {
  const envelope = message.envelope;
  const recipients = h(
    "table",
    { class: "recipients" },
    h("caption", { text: "RCPT TO" }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Recipient" }), h("th", { scope: "col", text: "Code" }), h("th", { scope: "col", text: "Reply" }))),
    h("tbody", {}, envelope.recipients.map((r) => h("tr", {}, h("td", { text: r.address }), h("td", {}, code(r.code)), h("td", { text: r.reply })))),
  );
  const warnings = message.warnings.length
    ? h("ul", { class: "warnings" }, message.warnings.map((w) => h("li", { class: w.severity === "info" ? "info" : null }, h("code", { text: w.code }), " ", w.message, w.severity === "info" ? " (for information)" : "")))
    : h("p", { class: "muted", text: "No warnings." });
  return h(
    "div",
    { class: "envelope" },
    h(
      "dl",
      { class: "facts" },
      h("dt", { text: "MAIL FROM" }),
      h("dd", { text: envelope.mail_from === "" ? "<> (null sender)" : envelope.mail_from }),
      h("dt", { text: "Parameters" }),
      h("dd", { text: envelope.mail_options.join(" ") || "—" }),
      h("dt", { text: "DATA" }),
      h("dd", {}, envelope.data ? [code(envelope.data.code), " ", envelope.data.reply] : "—"),
      h("dt", { text: "Bcc (envelope only)" }),
      h("dd", { text: message.bcc.map(formatAddress).join(", ") || "—" }),
    ),
    recipients,
    h("h3", { text: "Warnings" }),
    warnings,
  );
}

async function transcriptPanel(message) {
  return renderTranscript(await getMessageSession(message.id));
}

export const TABS = [
  { key: "html", label: "HTML", render: htmlPanel },
  { key: "text", label: "Text", render: textPanel },
  { key: "headers", label: "Headers", render: headersPanel },
  { key: "raw", label: "Raw", render: rawPanel },
  { key: "attachments", label: "Attachments", render: attachmentsPanel },
  { key: "envelope", label: "Envelope", render: envelopePanel },
  { key: "transcript", label: "Transcript", render: transcriptPanel },
];
