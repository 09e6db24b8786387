// The mailhog npm client, unmodified, against a mailtrap-lite that holds the two messages of
// tests/compat/mail.py and relays to a second one. Usage: node mailhog.mjs HOST PORT RELAY_HOST RELAY_PORT.
// Exits non-zero on the first failed assertion.
import assert from "node:assert/strict";
import mailhogClient from "mailhog";

const mailhog = mailhogClient({ host: process.argv[2], port: Number(process.argv[3]) });

const listed = await mailhog.messages();
assert.equal(listed.total, 2);
assert.equal(listed.count, 2);
const [reset, welcome] = listed.items;
assert.equal(reset.subject, "Reset your password");
assert.equal(welcome.from, "Shop <shop@app.example>");
assert.equal(welcome.to, "Ann Lee <ann@example.com>");
assert.match(reset.text, /reset it at https:\/\/app\.example\/reset\/bob/);
// The client looks for text and HTML among the top-level parts only, as MailHog splits them: the
// welcome's are one level down, in its multipart/alternative.
const alternative = welcome.MIME.Parts[0];
assert.match(alternative.MIME.Parts[1].Body, /<a href="https:\/\/app\.example\/confirm\/ann">/);
assert.deepEqual(welcome.attachments.map((a) => a.name), ["terms.pdf"]);
assert.equal(
  Buffer.from(mailhog.decode(welcome.attachments[0].Body, "base64"), "binary").toString(),
  "%PDF-1.4 invoice",
);
assert.ok(welcome.deliveryDate instanceof Date && !Number.isNaN(welcome.deliveryDate.getTime()));

assert.equal((await mailhog.messages(1, 1)).items[0].ID, welcome.ID);
assert.equal((await mailhog.search("confirm/ann")).items[0].ID, welcome.ID);
assert.equal((await mailhog.latestTo("bob@example.com")).ID, reset.ID);
assert.equal((await mailhog.latestFrom("bounce@app.example")).ID, reset.ID);
assert.equal((await mailhog.latestContaining("Welcome Ann")).ID, welcome.ID);
assert.equal((await mailhog.search("nobody@example.com", "to")).count, 0);

const [relayHost, relayPort] = [process.argv[4], process.argv[5]];
const release = await mailhog.releaseMessage(reset.ID, { Host: relayHost, Port: relayPort, Email: "dora@example.com" });
assert.equal(release.statusCode, 200); // an empty answer: the client resolves with the response itself
const elsewhere = await mailhog.releaseMessage(reset.ID, { Host: "smtp.example.com", Port: "25", Email: "x@example.com" });
assert.match(elsewhere.error, /releases only through --relay/);

await mailhog.deleteMessage(reset.ID);
assert.deepEqual((await mailhog.messages()).items.map((m) => m.ID), [welcome.ID]);

// DELETE /api/v1/messages is Mailpit's too, and answers Mailpit's "ok": the messages are deleted, but
// this client parses every answer as JSON and so rejects (the README's migration table says so).
await assert.rejects(mailhog.deleteAll(), SyntaxError);
assert.equal((await mailhog.messages()).total, 0);

console.log("mailhog: every call answered as MailHog answers");
