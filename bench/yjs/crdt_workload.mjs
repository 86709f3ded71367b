// Yjs on the workload shape of `switchboard bench crdt`: N one-field edits (default 200,000) of
// 10,000 records by 4 replicas that exchange their updates every 500 writes. Each record is a
// top-level Y.Map named by its id (top-level types merge by name, so replicas that create the
// same record concurrently keep each other's fields), each edit one map.set in its own
// transaction, so each edit is one Yjs update. Then, like `bench crdt`'s encode+decode+join,
// every update is applied to a fresh Y.Doc with Y.applyUpdate and timed (median of --runs).
//
//   node crdt_workload.mjs [--deltas N] [--runs R] [--json]
// Prints updates/s and the mean update size in bytes.
import * as Y from 'yjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const kDeltas = opt('--deltas', 200000);
const kRuns = opt('--runs', 3);
const kJson = args.includes('--json');
const kRecords = 10000, kReplicas = 4, kSyncEvery = 500;

// A small deterministic generator (splitmix64 on BigInt would be slow; mulberry32 suffices).
let seed = 20240601;
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0);
}
const hex = '0123456789abcdef';
function uuid() {
  let s = '';
  for (let i = 0; i < 32; ++i) {
    if (i === 8 || i === 12 || i === 16 || i === 20) s += '-';
    s += hex[rand() % 16];
  }
  return s;
}
const digits = (n) => { let s = ''; for (let i = 0; i < n; ++i) s += String(rand() % 10); return s; };
const kTypes = ['voice', 'voice', 'voice', 'cell', 'text', 'fax', 'video', 'textphone'];
const kDescriptions = [
  '24/7 anti-trafficking hotline, answered in English and Spanish',
  'Intake line for the emergency shelter; leave a message after hours',
  'Case managers, weekdays 9:00-17:00',
  'Legal clinic appointments (immigration and labor cases)',
  'Text line for survivors who cannot speak safely',
  'Interpreter on request: Tagalog, Vietnamese, Romanian',
  'After-hours duty officer',
  'Confidential; do not share with the public'];
// The same distribution of fields and values as bench/crdt_bench.cpp's RandomWrite.
function randomWrite() {
  const pick = rand() % 100;
  if (pick < 35) return ['number', '+1' + String(2 + rand() % 8) + digits(9)];
  if (pick < 65) return ['description', kDescriptions[rand() % kDescriptions.length]];
  if (pick < 80) return ['type', kTypes[rand() % kTypes.length]];
  if (pick < 90) return ['extension', digits(1 + rand() % 4)];
  return ['service_id', uuid()];
}

const ids = Array.from({ length: kRecords }, uuid);
const docs = Array.from({ length: kReplicas }, (_, r) => {
  const d = new Y.Doc();
  d.clientID = r + 1;
  return d;
});
const updates = [];   // every edit's update, in order
const authors = [];
let payload = 0;      // bytes of id + field + value
let synced = 0;
for (let i = 0; i < kDeltas; ++i) {
  const a = rand() % kReplicas;
  const id = ids[rand() % kRecords];
  const [field, value] = randomWrite();
  payload += id.length + field.length + Buffer.byteLength(value);
  let captured = null;
  const onUpdate = (u, origin) => { if (origin !== 'sync') captured = u; };
  docs[a].on('update', onUpdate);
  docs[a].transact(() => docs[a].getMap(id).set(field, value));
  docs[a].off('update', onUpdate);
  updates.push(captured);
  authors.push(a);
  if ((i + 1) % kSyncEvery !== 0 && i + 1 !== kDeltas) continue;
  for (let r = 0; r < kReplicas; ++r) {
    for (let k = synced; k < updates.length; ++k) {
      if (authors[k] !== r) Y.applyUpdate(docs[r], updates[k], 'sync');
    }
  }
  synced = updates.length;
}

let bytes = 0;
for (const u of updates) bytes += u.length;
const rates = [];
for (let run = 0; run < kRuns; ++run) {
  const fresh = new Y.Doc();
  const start = process.hrtime.bigint();
  for (const u of updates) Y.applyUpdate(fresh, u);
  const ns = Number(process.hrtime.bigint() - start);
  rates.push(updates.length / (ns / 1e9));
  if (fresh.getMap(ids[0]).size < 0) console.log('');  // keep the doc observable
}
rates.sort((x, y) => x - y);
const median = rates.length % 2 ? rates[(rates.length - 1) / 2]
                                 : (rates[rates.length / 2 - 1] + rates[rates.length / 2]) / 2;
const result = {
  yjs_version: Y.Doc ? (await import('yjs/package.json', { with: { type: 'json' } }).catch(() => null))?.default?.version ?? 'unknown' : 'unknown',
  node_version: process.version,
  deltas: kDeltas,
  runs: kRuns,
  apply_updates_per_s: median,
  mean_update_bytes: bytes / updates.length,
  mean_payload_bytes: payload / updates.length,
};
if (kJson) {
  console.log(JSON.stringify(result));
} else {
  console.log(`Yjs ${result.yjs_version} on Node ${result.node_version}: ${kDeltas} one-field edits ` +
              `(${kRecords} records, ${kReplicas} replicas, sync every ${kSyncEvery}), median of ${kRuns}`);
  console.log(`  Y.applyUpdate into a fresh doc: ${Math.round(median)} updates/s`);
  console.log(`  mean update size: ${(bytes / updates.length).toFixed(1)} bytes ` +
              `(id+field+value alone: ${(payload / updates.length).toFixed(1)})`);
}
