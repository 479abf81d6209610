#!/usr/bin/env node
// The Node.js binding beside GoRules zen-engine's own Node.js binding
// (@gorules/zen-engine) and the Rust library, on the leads and the decision graph
// of the Rust benchmark's `warm` section (bench/workload.js):
//
//   node_warm_qualify   org.qualify(object) -> object, per call (zen: await
//                       decision.evaluate(object), its only call)
//   rust                the library's warm qualify, `crm-rules-bench spin
//                       qualify`, run by this script before the Node rounds when
//                       the Rust benchmark is built
//   node_batch_qualify  await org.decide('qualify', JSON lines) per record, one
//                       deciding thread, beside the program on the same file
//
// Usage: node bench/bench.js [--json PATH] (from bindings/node, after `npm ci`
// and `npm install --no-save @gorules/zen-engine@0.54.0`, which the tests do not
// need; the program built: cargo build --release -p crm-rules-cli).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Org } = require('..');
const { ZenEngine } = require('@gorules/zen-engine');
const workload = require('./workload');

const root = path.resolve(__dirname, '..', '..', '..');
const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
const benchBin = path.join(target, 'release', 'crm-rules-bench');
const programBin = path.join(target, 'release', 'crm-rules');
const NOW = '2026-11-25T09:00:00Z';
const ROUNDS = 31;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

// Every round times each contender once, in turn: a burst of load on the
// machine lands on all of them. Microseconds per item, median of the rounds.
async function sideBySide(rounds, items, contenders) {
  const times = contenders.map(() => []);
  for (let r = 0; r < rounds; r += 1) {
    for (let i = 0; i < contenders.length; i += 1) {
      const start = process.hrtime.bigint();
      await contenders[i]();
      times[i].push(Number(process.hrtime.bigint() - start) / 1000 / items);
    }
  }
  return times.map(median);
}

async function main() {
  const args = process.argv.slice(2);
  const at = args.indexOf('--json');
  const jsonPath = at >= 0 ? args[at + 1] : undefined;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-rules-node-bench-'));
  try {
    const leads = Array.from({ length: 1000 }, (_, i) => workload.lead(i));
    const zenLeads = leads.map(workload.zenLead);
    const org = new Org(path.join(root, 'examples', 'strict'));
    const options = { now: NOW };
    const zen = new ZenEngine().createDecision(Buffer.from(JSON.stringify(workload.qualificationGraph())));

    // Same work: zen's score, outcome and rating equal ours on every lead.
    for (let i = 0; i < leads.length; i += 1) {
      const ours = org.qualify(leads[i], options).decision;
      const theirs = (await zen.evaluate(zenLeads[i])).result;
      const outcome = ours.outcome === 'qualify' ? 'qualified' : ours.outcome;
      if (theirs.score !== ours.score || theirs.rating !== ours.rating || theirs.outcome !== outcome) {
        throw new Error(`zen and ours differ on ${leads[i].id}: ${JSON.stringify(theirs)} vs ${JSON.stringify(ours)}`);
      }
    }

    let rustWarm = null;
    if (fs.existsSync(benchBin)) {
      const rust = execFileSync(benchBin, ['spin', 'qualify']).toString();
      rustWarm = Number(/([\d.]+) us each/.exec(rust)[1]);
    }

    const [ours, theirs] = await sideBySide(ROUNDS, leads.length, [
      () => {
        for (const lead of leads) org.qualify(lead, options);
      },
      async () => {
        for (const lead of zenLeads) await zen.evaluate(lead);
      },
    ]);

    // A batch: the leads a hundred times over, as one JSON-lines text.
    const copies = 100;
    const batchText = Array.from({ length: copies }, () => leads.map((l) => JSON.stringify(l)).join('\n')).join('\n') + '\n';
    const batchFile = path.join(scratch, 'batch.jsonl');
    fs.writeFileSync(batchFile, batchText);
    const records = leads.length * copies;
    const [batch, program] = await sideBySide(5, records, [
      async () => {
        const answers = await org.decide('qualify', Buffer.from(batchText), { ...options, jobs: 1 });
        if (answers.length !== records) throw new Error('batch: wrong number of answers');
      },
      () => {
        execFileSync(programBin, ['--org-dir', path.join(root, 'examples', 'strict'), '--now', NOW, '--jobs', '1', 'qualify', batchFile], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 30 });
      },
    ]);

    const figures = [
      { measure: 'node_warm_qualify', unit: 'us', ours, native: null, zen: theirs, rust: rustWarm },
      { measure: 'node_batch_qualify', unit: 'us', ours: batch, native: null, zen: null, program },
    ];
    console.log(`node_warm_qualify   ${ours.toFixed(2)} us per call (zen-engine's binding ${theirs.toFixed(2)} us, ${(theirs / ours).toFixed(1)}x; ${rustWarm === null ? 'Rust benchmark not built' : `Rust warm qualify ${rustWarm.toFixed(2)} us, +${(ours - rustWarm).toFixed(2)} us`})`);
    console.log(`node_batch_qualify  ${batch.toFixed(2)} us per record, ${Math.round(1e6 / batch)} records/s (the program on the same file, one thread: ${program.toFixed(2)} us, ${Math.round(1e6 / program)} records/s; ${((program / batch) * 100).toFixed(0)}%)`);
    if (jsonPath) fs.writeFileSync(jsonPath, JSON.stringify(figures, null, 2) + '\n');
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
