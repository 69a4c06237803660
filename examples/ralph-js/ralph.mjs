// A ralph-style loop client on an agent server's global event stream (seed 000),
// leaky or fixed, written with the real @opencode-ai/sdk client.
//
// Each iteration: create a session, subscribe to the global event stream,
// prompt, wait until the session is idle, show one small line per tool call.
// --leaky does what the 10 GB report found: the subscription is never closed
// (every old one keeps reading every later session's events), whole events
// with full tool outputs are kept, and sessions are never deleted.
// The fixed twin aborts its subscription once its session is idle, keeps at
// most MAX_EVENTS small display events, and deletes the session.
//
// Note on the fix: in @opencode-ai/sdk 1.19.3, `events.stream.return()` (the
// report's fix #1) only releases the reader lock; the HTTP response stays open
// and unread. Closing the connection takes an AbortSignal passed to subscribe().
import { createOpencodeClient } from "@opencode-ai/sdk";

const MAX_EVENTS = 200;
const leaky = process.argv.includes("--leaky");
const baseUrl = process.env.LEAKBENCH_URL;
if (!baseUrl) {
  console.error("ralph.mjs: LEAKBENCH_URL is not set: run it through `leakbench run`");
  process.exit(2);
}
const iterations = Number(process.env.LEAKBENCH_ITERATIONS ?? 0) + 1;
const client = createOpencodeClient({ baseUrl });
const model = { providerID: "leakbench", modelID: "mock" };

const kept = []; // leaky: every whole event
const lines = []; // what the user sees

function onEvent(event) {
  if (leaky) kept.push(event);
  const part = event.properties?.part;
  if (event.type === "message.part.updated" && part?.type === "tool") {
    lines.push({ icon: part.tool, text: part.state.title ?? JSON.stringify(part.state.input).slice(0, 80) });
    if (lines.length > MAX_EVENTS) lines.splice(0, lines.length - MAX_EVENTS);
  }
}

async function iteration(n) {
  const controller = new AbortController();
  const events = await client.event.subscribe(leaky ? {} : { signal: controller.signal });
  const waiting = new Map();
  let connected;
  const ready = new Promise((resolve) => (connected = resolve));
  const pump = (async () => {
    try {
      for await (const event of events.stream) {
        if (event.type === "server.connected") connected();
        onEvent(event);
        if (event.type === "session.idle") waiting.get(event.properties.sessionID)?.();
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  })();
  await ready;
  const created = await client.session.create({ body: { title: `ralph iteration ${n}` } });
  if (!created.data) throw new Error(`session.create failed: ${JSON.stringify(created.error)}`);
  const id = created.data.id;
  const idle = new Promise((resolve) => waiting.set(id, resolve));
  const prompted = await client.session.prompt({ path: { id }, body: { model, parts: [{ type: "text", text: "Work on the next item of plan.md." }] } });
  if (!prompted.data) throw new Error(`session.prompt failed: ${JSON.stringify(prompted.error)}`);
  await idle;
  if (leaky) return; // the subscription goes on reading, the session stays
  controller.abort();
  await pump;
  const deleted = await client.session.delete({ path: { id } });
  if (deleted.data !== true) throw new Error(`session.delete failed: ${JSON.stringify(deleted.error)}`);
}

for (let n = 0; n < iterations; n++) {
  await iteration(n);
  globalThis.gc?.(); // only with node --expose-gc (the report's fix #4): makes growth exact
}
process.exit(0);
