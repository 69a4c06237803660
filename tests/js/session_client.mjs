// An OpenCode-style client (the real @opencode-ai/sdk) for the Node probe's tests:
// one global event subscription, then per session create, prompt, delete; it
// keeps the last 200 small summaries of tool calls, as a UI would.
//
//   --keep BYTES   the leaky twin: a RunRecord of BYTES (a string on the JS heap)
//                  per session, kept in a module-scope Map that is never swept
//   --keep-buffer BYTES
//                  the other leaky twin: the RunRecord holds a Buffer of BYTES
//                  (memory outside the JS heap: process.memoryUsage().external)
//   --truth        prints, every 50 sessions, after a full collection (node
//                  --expose-gc, or bun): "truth SESSION HEAPUSED EXTERNAL
//                  ARRAYBUFFERS", the bare truth, without leakbench. Node's
//                  heapUsed leaves out external; Bun's counts it already
//   --busy MS      blocks the event loop for MS after each session (a busy target)
//   --inspect-off  the probe's fail-soft test: removes the inspector leakbench asked for
import inspector from "node:inspector";
import { createOpencodeClient } from "@opencode-ai/sdk";

const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const keep = Number(arg("--keep") ?? 0);
const keepBuffer = Number(arg("--keep-buffer") ?? 0);
const busy = Number(arg("--busy") ?? 0);
const truth = process.argv.includes("--truth");
if (process.argv.includes("--inspect-off")) inspector.close();

const baseUrl = process.env.LEAKBENCH_URL;
if (!baseUrl) {
  console.error("session_client.mjs: LEAKBENCH_URL is not set: run it through `leakbench run`");
  process.exit(2);
}
const sessions = Number(process.env.LEAKBENCH_ITERATIONS ?? 0) + 1;
const client = createOpencodeClient({ baseUrl });
const model = { providerID: "leakbench", modelID: "mock" };

class RunRecord {
  constructor(id, n) {
    this.id = id;
    this.n = n;
    if (keep) this.transcript = Buffer.alloc(keep, `${n} `).toString("latin1"); // flat: "x".repeat() shares its parts
    if (keepBuffer) this.attachment = Buffer.alloc(keepBuffer, n % 256); // its bytes are outside the JS heap
  }
}
const runs = new Map(); // the leaky twin's: never swept
const summaries = []; // the last 200 tool calls, as a UI shows them

const controller = new AbortController();
const events = await client.event.subscribe({ signal: controller.signal });
let connected;
const ready = new Promise((resolve) => (connected = resolve));
const pump = (async () => {
  try {
    for await (const event of events.stream) {
      if (event.type === "server.connected") connected();
      const part = event.properties?.part;
      if (event.type === "message.part.updated" && part?.type === "tool" && part.state.status === "completed") {
        summaries.push({ tool: part.tool, bytes: part.state.output.length });
        if (summaries.length > 200) summaries.splice(0, summaries.length - 200);
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  }
})();
await ready;

for (let n = 0; n < sessions; n++) {
  const created = await client.session.create({ body: { title: `session ${n}` } });
  if (!created.data) throw new Error(`session.create failed: ${JSON.stringify(created.error)}`);
  const id = created.data.id;
  const prompted = await client.session.prompt({ path: { id }, body: { model, parts: [{ type: "text", text: "go" }] } });
  if (!prompted.data) throw new Error(`session.prompt failed: ${JSON.stringify(prompted.error)}`);
  if (keep || keepBuffer) runs.set(id, new RunRecord(id, n));
  const deleted = await client.session.delete({ path: { id } });
  if (deleted.data !== true) throw new Error(`session.delete failed: ${JSON.stringify(deleted.error)}`);
  if (busy) for (const until = Date.now() + busy; Date.now() < until; );
  if (truth && n % 50 === 0) {
    if (typeof Bun !== "undefined") Bun.gc(true);
    else {
      globalThis.gc();
      globalThis.gc({ type: "minor" }); // finishes the full one's ArrayBuffer sweep: external settles (docs/node.md)
    }
    const m = process.memoryUsage();
    console.log(`truth ${n} ${m.heapUsed} ${m.external} ${m.arrayBuffers}`);
  }
}
controller.abort();
await pump;
process.exit(0);
