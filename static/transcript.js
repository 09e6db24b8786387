// An SMTP session and its transcript: client and server lines apart, reply codes highlighted, timings.

import { formatFull, h, replyClass } from "./dom.js";

const REPLY = /^(\d{3})([ -])(.*)$/s;

function serverLine(text) {
  const match = REPLY.exec(text);
  if (!match) return [text];
  const code = Number(match[1]);
  return [h("span", { class: `reply-code ${replyClass(code)}`, text: match[1] }), match[2] + match[3]];
}

function clientLine(text) {
  const space = text.indexOf(" ");
  const verb = space < 0 ? text : text.slice(0, space);
  return [h("span", { class: "verb", text: verb }), space < 0 ? "" : text.slice(space)];
}

export function renderTranscript(session) {
  const lines = session.transcript || [];
  return h(
    "div",
    { class: "transcript-wrap" },
    sessionFacts(session),
    lines.length ? transcriptTable(lines) : h("p", { class: "muted", text: "No transcript lines." }),
    session.transcript_truncated ? h("p", { class: "muted", text: "The transcript was truncated (it is capped in size)." }) : null,
  );
}

// Transcript lines as a table; ``C`` lines are what the client sent (mailtrap-lite itself, in a release).
export function transcriptTable(lines, caption = "SMTP transcript: time since connect, direction, line") {
  let previous = 0;
  const rows = lines.map((line) => {
    const delta = line.t_ms - previous;
    previous = line.t_ms;
    const client = line.dir === "C";
    return h(
      "tr",
      { class: client ? "line-client" : "line-server" },
      h("td", { class: "t", title: `+${delta} ms since the previous line`, text: `${line.t_ms} ms` }),
      h(
        "td",
        { class: "dir" },
        h("span", { "aria-hidden": "true", text: client ? "C →" : "S ←" }),
        h("span", { class: "visually-hidden", text: client ? "client" : "server" }),
      ),
      h(
        "td",
        { class: "line" },
        client ? clientLine(line.line) : serverLine(line.line),
        line.fault_id ? h("span", { class: "badge fault", text: `fault ${line.fault_id}` }) : null,
      ),
    );
  });
  return h(
    "table",
    { class: "transcript" },
    h("caption", { class: "visually-hidden", text: caption }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Time" }), h("th", { scope: "col", text: "Who" }), h("th", { scope: "col", text: "Line" }))),
    h("tbody", {}, rows),
  );
}

export function sessionFacts(session) {
  const facts = [
    ["Peer", session.peer],
    ["HELO/EHLO", session.helo || "—"],
    ["Started", formatFull(session.started_at)],
    ["Ended", session.ended_at ? formatFull(session.ended_at) : "still open"],
    ["TLS", session.tls ? `${session.tls.version} ${session.tls.cipher}` : "no"],
    ["AUTH", session.auth ? `${session.auth.username} (${session.auth.mechanism})` : "no"],
    ["Messages", String(session.message_ids?.length ?? 0)],
  ];
  if (session.error) facts.push(["Error", session.error]);
  return h("dl", { class: "facts" }, facts.map(([name, value]) => [h("dt", { text: name }), h("dd", { text: value })]));
}
