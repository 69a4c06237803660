// Drives the leakbench opencode mock with the real @opencode-ai/sdk client:
// subscribe to /event, then per session create, prompt (sync and async), list
// messages, delete. Prints one JSON summary line; exits non-zero on any mismatch.
import { createOpencodeClient } from "@opencode-ai/sdk";

const [baseUrl, sessionsArg] = process.argv.slice(2);
const sessions = Number(sessionsArg ?? 3);
const client = createOpencodeClient({ baseUrl });

const seen = { toolOutputs: [], running: 0, busy: 0, idle: 0, sessionIdle: 0, created: 0, deleted: 0, types: {} };
const events = await client.event.subscribe();
let stop = false;
// The SDK opens the stream lazily: wait for the server's first event so that no
// session.created is broadcast before this subscriber is connected.
let connected;
const ready = new Promise((resolve) => (connected = resolve));
const reader = (async () => {
  for await (const event of events.stream) {
    if (event.type === "server.connected") connected();
    seen.types[event.type] = (seen.types[event.type] ?? 0) + 1;
    const p = event.properties;
    if (event.type === "message.part.updated" && p.part.type === "tool") {
      if (p.part.state.status === "completed") seen.toolOutputs.push(p.part.state.output.length);
      else seen.running += 1;
    }
    if (event.type === "session.status") seen[p.status.type] += 1;
    if (event.type === "session.idle") seen.sessionIdle += 1;
    if (event.type === "session.created") seen.created += 1;
    if (event.type === "session.deleted") seen.deleted += 1;
    if (stop) break;
  }
})();

function check(cond, what) {
  if (!cond) {
    console.error(`mismatch: ${what}`);
    process.exit(1);
  }
}

await ready;
const results = [];
for (let i = 0; i < sessions; i++) {
  const created = await client.session.create({ body: { title: `s${i}` } });
  check(created.data && typeof created.data.id === "string", "session.create returns a Session with an id");
  const id = created.data.id;
  const model = { providerID: "leakbench", modelID: "mock" };
  const prompted = await client.session.prompt({ path: { id }, body: { model, parts: [{ type: "text", text: "go" }] } });
  check(prompted.data?.info?.role === "assistant", "prompt returns the assistant message");
  const tools = prompted.data.parts.filter((p) => p.type === "tool");
  results.push({ tools: tools.length, outputs: tools.map((p) => p.state.output.length), finish: prompted.data.info.finish });
  const asyncReply = await client.session.promptAsync({ path: { id }, body: { model, parts: [{ type: "text", text: "again" }] } });
  check(asyncReply.response.status === 204, "prompt_async answers 204");
  const messages = await client.session.messages({ path: { id } });
  check(Array.isArray(messages.data) && messages.data.length >= 2, "messages lists the turns");
  const deleted = await client.session.delete({ path: { id } });
  check(deleted.data === true, "delete returns true");
}

const deadline = Date.now() + 10000;
while (seen.sessionIdle < 2 * sessions && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
stop = true;
console.log(JSON.stringify({ results, seen }));
process.exit(0);
