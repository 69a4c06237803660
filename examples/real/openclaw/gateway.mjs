// Runs the real openclaw gateway (a pinned version installed by install.sh) offline on loopback,
// in this Node process, so that leakbench's Node probe measures the gateway itself:
//
//   leakbench run examples/real/openclaw/batch.toml --drive openclaw --isolate-network -- \
//       examples/real/openclaw/node22 examples/real/openclaw/gateway.mjs 2026.4.10 {port}
//
// Its config (gateway on loopback with token auth, sessions_spawn and subagents (the driver
// waits with it for each run to end) allowed over HTTP, one
// OpenAI-compatible provider whose baseUrl is the mock) and every state dir live under the
// scenario workspace, which leakbench removes after the run. The token is LEAKBENCH_OPENCLAW_TOKEN
// (the driver reads the same variable), a dummy by default: the gateway listens on 127.0.0.1 only.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [version, port] = process.argv.slice(2);
const fail = (why) => { process.stderr.write(`gateway.mjs: ${why}\n`); process.exit(2); };
if (!version || !/^\d+$/.test(port ?? "")) fail("usage: gateway.mjs VERSION PORT");
const entry = path.join(here, version, "node_modules", "openclaw", "openclaw.mjs");
if (!fs.existsSync(entry)) fail(`no openclaw ${version} at ${entry}: run examples/real/openclaw/install.sh ${version}`);
const workspace = process.env.LEAKBENCH_WORKSPACE ?? fail("LEAKBENCH_WORKSPACE is not set (run it through leakbench)");
const mock = process.env.LEAKBENCH_URL ?? fail("LEAKBENCH_URL is not set (run it through leakbench)");
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(mock)) fail(`LEAKBENCH_URL=${mock} is not loopback; refusing`);
const token = process.env.LEAKBENCH_OPENCLAW_TOKEN || "leakbench-dummy-token";

const state = path.join(workspace, ".real-openclaw");
const dirs = { home: path.join(state, "home"), state: path.join(state, "state"), tmp: path.join(state, "tmp"), agent: path.join(state, "agent") };
for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
const config = {
  gateway: {
    mode: "local", bind: "loopback", port: Number(port),
    auth: { mode: "token", token },
    http: { endpoints: { chatCompletions: { enabled: true } } },
    tools: { allow: ["sessions_spawn", "subagents"] },
  },
  // the subagent gets one tool it may use (subagents may not spawn): 2026.5.x refuses a run left with none
  tools: { allow: ["sessions_spawn", "subagents", "read"] },
  logging: { file: path.join(state, "openclaw.log") },
  models: {
    mode: "replace",
    providers: {
      leakbench: {
        baseUrl: `${mock}/v1`, apiKey: process.env.OPENAI_API_KEY || "sk-leakbench-dummy", api: "openai-completions",
        models: [{ id: "mock", name: "leakbench mock", reasoning: false, input: ["text"],
                   cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }, contextWindow: 1000000, maxTokens: 4096 }],
      },
    },
  },
  agents: { defaults: { model: { primary: "leakbench/mock" }, workspace: dirs.agent } },
};
const configPath = path.join(state, "openclaw.json");
fs.writeFileSync(configPath, JSON.stringify(config, null, 2));

Object.assign(process.env, {
  HOME: dirs.home, TMPDIR: dirs.tmp, OPENCLAW_HOME: dirs.home, OPENCLAW_STATE_DIR: dirs.state, OPENCLAW_CONFIG_PATH: configPath,
  OPENCLAW_SKIP_CHANNELS: "1", OPENCLAW_DISABLE_BONJOUR: "1", OPENCLAW_SKIP_CRON: "1", OPENCLAW_NO_RESPAWN: "1",
  OPENCLAW_SKIP_ACPX_RUNTIME: "1", OPENCLAW_SKIP_ACPX_RUNTIME_PROBE: "1", OPENCLAW_SKIP_CANVAS_HOST: "1",
  OPENCLAW_SKIP_GMAIL_WATCHER: "1",
});
// openclaw logs to a hard-coded /tmp/openclaw besides logging.file: removed at exit if this run made it
const sharedTmp = "/tmp/openclaw";
const madeSharedTmp = !fs.existsSync(sharedTmp);
process.on("exit", () => { if (madeSharedTmp) fs.rmSync(sharedTmp, { recursive: true, force: true }); });
// leakbench stops the target with SIGTERM and kills it 5 s later: openclaw's graceful shutdown may take
// longer, and a killed process runs no exit handler. Registered first, this ends it at once.
for (const signal of ["SIGTERM", "SIGINT"]) process.once(signal, () => process.exit(signal === "SIGTERM" ? 143 : 130));
process.chdir(workspace);
process.argv = [process.argv[0], entry, "gateway", "run", "--port", port, "--bind", "loopback", "--allow-unconfigured"];
await import(pathToFileURL(entry).href);
