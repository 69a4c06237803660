// A live target for HeapSnapshotWindow: reads commands on stdin, answers "ok" on stdout.
//   step N      run N sessions (each keeps a RunRecord in the module-scope Map `runs`)
//   snap PATH   full collections, then a heap snapshot written to PATH
const v8 = require("v8");
const readline = require("readline");

class RunRecord {
  constructor(i) {
    this.id = i;
    this.payload = Buffer.alloc(4096, 97 + (i % 26)).toString("latin1");
  }
}

const runs = new Map();
let next = 0;

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, arg] = line.split(" ");
  if (command === "step") {
    for (let n = 0; n < Number(arg); n++, next++) runs.set(next, new RunRecord(next));
  } else if (command === "snap") {
    global.gc();
    v8.writeHeapSnapshot(arg);
  } else if (command === "exit") {
    process.exit(0);
  }
  process.stdout.write("ok\n");
});
