// The Release form: send the open message through the relay (--relay) to recipients the user may edit,
// then show the next hop's verdict and the outbound SMTP conversation.

import { releaseMessage } from "./api.js";
import { clear, formatFull, h } from "./dom.js";
import { transcriptTable } from "./transcript.js";

const VERDICT = { sent: "Sent", refused: "Refused", deferred: "Not delivered (temporary)" };

export function releaseForm(message) {
  const accepted = message.envelope.recipients.filter((r) => r.code >= 200 && r.code < 300).map((r) => r.address);
  const input = h("input", { type: "text", id: "release-to", name: "to", value: accepted.join(", "), "aria-describedby": "release-help", autocomplete: "off", spellcheck: "false" });
  const send = h("button", { type: "submit", class: "primary", text: "Send" });
  const result = h("div", { class: "release-result", role: "status", "aria-live": "polite" });
  const history = h("ul", { class: "release-history", "aria-label": "Releases of this message" });
  showHistory(history, message.releases);
  const form = h(
    "form",
    { class: "release-form", id: "release-form", "aria-label": "Release" },
    h("label", { for: "release-to", text: "Release to" }),
    h("div", { class: "release-row" }, input, send),
    h("p", { id: "release-help", class: "muted", text: "Sends this message as it was captured to real inboxes, through the relay. Separate addresses with commas." }),
    result,
    history,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const to = input.value.split(",").map((a) => a.trim()).filter(Boolean);
    send.disabled = true;
    clear(result, h("p", { class: "muted", text: "Sending…" }));
    try {
      const record = await releaseMessage(message.id, to);
      message.releases = [...message.releases, record];
      showRecord(result, record);
      showHistory(history, message.releases);
    } catch (error) {
      clear(result, h("p", { class: "error", text: error.message }));
    } finally {
      send.disabled = false;
    }
  });
  return form;
}

// Every release this message had (manual and automatic), newest first.
function showHistory(list, releases) {
  clear(
    list,
    [...releases].reverse().map((r) =>
      h("li", { class: `release-past ${r.result}` }, `${formatFull(r.at)} · ${VERDICT[r.result] || r.result} (${r.code ?? "no reply"}) · ${r.trigger} · to ${r.to.join(", ")}`),
    ),
  );
}

function showRecord(result, record) {
  const code = record.code === null ? "no reply" : String(record.code);
  clear(
    result,
    h("p", { class: `release-verdict ${record.result}` }, h("strong", { text: VERDICT[record.result] || record.result }), ` — ${code} from ${record.relay || "no next hop"}`),
    record.error ? h("p", { class: "release-error", text: record.error }) : null,
    record.transcript.length
      ? transcriptTable(record.transcript, "Outbound SMTP transcript: time since connect, direction, line")
      : h("p", { class: "muted", text: "No connection was made." }),
  );
}
