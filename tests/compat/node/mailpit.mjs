// mailpit-api, unmodified, against a mailtrap-lite that holds the two messages of tests/compat/mail.py
// and relays to a second one.
// Usage: node mailpit.mjs BASE_URL. Exits non-zero on the first failed assertion.
import assert from "node:assert/strict";
import { MailpitClient } from "mailpit-api";

const mailpit = new MailpitClient(process.argv[2]);

const info = await mailpit.getInfo();
assert.equal(info.Messages, 2);
assert.equal(info.Unread, 2);

const listed = await mailpit.listMessages();
assert.equal(listed.messages_count, 2);
assert.deepEqual(listed.messages.map((m) => m.Subject), ["Reset your password", "Welcome Ann"]);
const [reset, welcome] = listed.messages;
assert.equal(welcome.Attachments, 1);
assert.deepEqual(welcome.To, [{ Name: "Ann Lee", Address: "ann@example.com" }]);
assert.equal((await mailpit.listMessages(1, 1)).messages[0].ID, welcome.ID);

const found = await mailpit.searchMessages({ query: 'subject:"Welcome Ann" has:attachment' });
assert.deepEqual(found.messages.map((m) => m.ID), [welcome.ID]);
assert.equal((await mailpit.searchMessages({ query: "-has:attachment" })).messages[0].ID, reset.ID);

const waited = await mailpit.waitForMessage({ query: "to:bob@example.com" });
assert.equal(waited.ID, reset.ID);
assert.match(waited.Text, /https:\/\/app\.example\/reset\/bob/);
await mailpit.waitForMessages({ query: "from:shop@app.example", count: 2 });

const full = await mailpit.getMessageSummary(welcome.ID);
assert.equal(full.From.Address, "shop@app.example");
assert.match(full.HTML, /confirm\/ann/);
assert.equal(full.Attachments[0].FileName, "terms.pdf");
const pdf = await mailpit.getMessageAttachment(welcome.ID, full.Attachments[0].PartID);
assert.equal(Buffer.from(await pdf.arrayBuffer()).toString(), "%PDF-1.4 invoice");
assert.equal(pdf.type, "application/pdf");

const headers = await mailpit.getMessageHeaders(welcome.ID);
assert.deepEqual(headers["X-Campaign"], ["signup"]);
assert.match(await mailpit.getMessageSource(welcome.ID), /^Subject: Welcome Ann\r$/m);
assert.match(await mailpit.renderMessageHTML(welcome.ID), /confirm\/ann/);
assert.match(await mailpit.renderMessageText(), /reset\/bob/); // "latest"

// Reading a message marks it read, as in Mailpit; then all unread, then read by search.
assert.equal((await mailpit.getInfo()).Unread, 0);
assert.equal(await mailpit.setReadStatus(), "ok");
assert.equal((await mailpit.listMessages()).unread, 2);
await mailpit.setReadStatus({ Search: "subject:reset", Read: true });
assert.deepEqual((await mailpit.searchMessages({ query: "is:read" })).messages.map((m) => m.ID), [reset.ID]);
await mailpit.setReadStatus({ IDs: [welcome.ID], Read: true });
assert.equal((await mailpit.listMessages()).unread, 0);

await mailpit.setTags({ IDs: [welcome.ID], Tags: ["signup", "ann"] });
assert.deepEqual(await mailpit.getTags(), ["ann", "signup"]);
assert.deepEqual((await mailpit.searchMessages({ query: "tag:signup" })).messages.map((m) => m.ID), [welcome.ID]);
assert.deepEqual((await mailpit.listMessages()).tags, ["ann", "signup"]);
assert.equal(await mailpit.renameTag("ann", "Ann Lee"), "ok");
// Tags are stored lower-cased.
assert.deepEqual((await mailpit.getMessageSummary(welcome.ID)).Tags.sort(), ["ann lee", "signup"]);
assert.equal(await mailpit.deleteTag("signup"), "ok");
assert.deepEqual(await mailpit.getTags(), ["ann lee"]);
await mailpit.setTags({ IDs: [welcome.ID] });
assert.deepEqual(await mailpit.getTags(), []);

const config = await mailpit.getConfiguration();
assert.equal(config.MessageRelay.Enabled, true);
assert.equal(await mailpit.releaseMessage(welcome.ID, { To: ["carl@example.com"] }), "ok");
await assert.rejects(mailpit.releaseMessage(welcome.ID, { To: ["eve@elsewhere.test"] }), /403/);

await assert.rejects(mailpit.searchMessages({ query: "after:soon" }), /400/);
await assert.rejects(mailpit.getMessageSummary("no-such-id"), /404/);

assert.equal(await mailpit.deleteMessagesBySearch({ query: "to:bob@example.com" }), "ok");
assert.deepEqual((await mailpit.listMessages()).messages.map((m) => m.ID), [welcome.ID]);
assert.equal(await mailpit.deleteMessages({ IDs: [welcome.ID] }), "ok");
assert.equal((await mailpit.listMessages()).total, 0);
assert.equal(await mailpit.deleteMessages(), "ok");

const sent = await mailpit.sendMessage({
  From: { Email: "app@example.com", Name: "App" },
  To: [{ Email: "dora@example.com", Name: "Dora" }],
  Bcc: ["audit@example.com"],
  Subject: "Sent over HTTP",
  Text: "Hello Dora",
  Tags: ["api"],
  Attachments: [{ Content: Buffer.from("hi").toString("base64"), Filename: "hi.txt" }],
});
const delivered = await mailpit.getMessageSummary(sent.ID);
assert.equal(delivered.Subject, "Sent over HTTP");
assert.deepEqual(delivered.To, [{ Name: "Dora", Address: "dora@example.com" }]);
assert.deepEqual(delivered.Bcc, [{ Name: "", Address: "audit@example.com" }]);
assert.deepEqual(delivered.Tags, ["api"]);
assert.equal(delivered.Attachments[0].FileName, "hi.txt");
await assert.rejects(mailpit.sendMessage({ From: { Email: "app@example.com" } }), /400/);
assert.equal(await mailpit.deleteMessages(), "ok");

console.log("mailpit-api: every call answered as Mailpit answers");
