// Three ways a program keeps what it made, each grown per step, for the retainer paths' wording:
// a property of the global object, a closure's variable, a module-scope Map (CommonJS).
//   node --expose-gc holders.js OUTDIR 50 150 250
const v8 = require("v8");
const [out, ...marks] = process.argv.slice(2);

class Event { constructor(i) { this.i = i; this.body = Buffer.alloc(2048, 97 + (i % 26)).toString("latin1"); } }
class Item { constructor(i) { this.i = i; this.note = Buffer.alloc(1024, 98).toString("latin1"); } }
class Entry { constructor(i) { this.i = i; this.text = Buffer.alloc(512, 99).toString("latin1"); } }

globalThis.events = [];
const cache = new Map(); // used by store(): a variable of the module's scope
function store(i) { cache.set(i, new Entry(i)); }
function rememberer() { const inner = []; return (x) => inner.push(x); }
const remember = rememberer(); // inner: a variable of rememberer's scope, kept by its closure

let i = 0;
for (const mark of marks.map(Number)) {
  for (; i < mark; i++) {
    globalThis.events.push(new Event(i));
    remember(new Item(i));
    store(i);
  }
  global.gc();
  v8.writeHeapSnapshot(`${out}/holders-${mark}.heapsnapshot`);
}
