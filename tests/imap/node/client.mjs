// Drives imapflow against the server the test started: fetch, flag read, delete, then wait in IDLE for a
// new message. Prints one JSON line per step; the test sends the new message after "idling".
import { ImapFlow } from "imapflow";

const [host, port, user] = process.argv.slice(2);
let sawIdle = false;
const say = (step, data = {}) => console.log(JSON.stringify({ step, ...data }));

const client = new ImapFlow({
  host,
  port: Number(port),
  secure: false,
  doSTARTTLS: false,
  auth: { user, pass: "anything" },
  logger: {
    debug: (entry) => {
      if (entry.msg === "> IDLE" || /^\S+ IDLE$/.test(entry.msg ?? "")) sawIdle = true;
    },
    info: () => {},
    warn: () => {},
    error: () => {},
  },
});

await client.connect();
const lock = await client.getMailboxLock("INBOX");
try {
  const first = await client.fetchOne("1", { uid: true, flags: true, envelope: true, bodyStructure: true, source: true });
  say("fetched", {
    uid: first.uid,
    subject: first.envelope.subject,
    from: first.envelope.from[0].address,
    flags: [...first.flags],
    parts: first.bodyStructure.childNodes.map((node) => node.type),
    source: first.source.toString("base64"),
  });
  const attachment = await client.download(String(first.uid), "2", { uid: true });
  const chunks = [];
  for await (const chunk of attachment.content) chunks.push(chunk);
  say("attachment", { filename: attachment.meta.filename, content: Buffer.concat(chunks).toString("base64") });

  await client.messageFlagsAdd(String(first.uid), ["\\Seen"], { uid: true });
  say("flagged");

  const second = await client.fetchOne("2", { uid: true });
  await client.messageDelete(String(second.uid), { uid: true });
  say("deleted", { uid: second.uid, exists: client.mailbox.exists });

} finally {
  lock.release();
}

// imapflow would go into IDLE by itself after a while with no command waiting; start it now.
const arrived = new Promise((resolve) => client.once("exists", resolve));
client.idle();
say("idling");
const event = await arrived;
const latest = await client.fetchOne(String(event.count), { uid: true, envelope: true });
say("arrived", { count: event.count, subject: latest.envelope.subject, uid: latest.uid, idled: sawIdle });
await client.logout();
say("done");
