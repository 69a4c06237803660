// A session loop that keeps a RunRecord (a 4 KiB payload) per session in a
// module-scope Map. "leaky" never sweeps it; "clean" keeps the last 50.
// Writes a heap snapshot (after full collections) at each session count given:
//   node --expose-gc records.js leaky|clean OUTDIR 100 300 500
const v8 = require("v8");
const [mode, out, ...marks] = process.argv.slice(2);

class RunRecord {
  constructor(i) {
    this.id = i;
    this.payload = Buffer.alloc(4096, 97 + (i % 26)).toString("latin1");
    this.startedAt = Date.now();
  }
}

const runs = new Map();

function session(i) {
  runs.set(`run-${i}`, new RunRecord(i));
  if (mode === "clean" && runs.size > 50) runs.delete(`run-${i - 50}`);
  const scratch = [];
  for (let k = 0; k < 20; k++) scratch.push({ k, text: String(k * i) });
  return scratch.length;
}

let i = 0;
for (const mark of marks.map(Number)) {
  while (i < mark) session(i++);
  global.gc();
  global.gc();
  v8.writeHeapSnapshot(`${out}/${mode}-${mark}.heapsnapshot`);
}
