// The binding answers what the program answers: every committed example input,
// native file and fixture record, decided by both, line for line.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { examples, NOW, host, programLines, writeScratch } = require('./support');

const strict = path.join(examples, 'strict');
const loose = path.join(examples, 'loose');
const orgs = new Map([strict, loose].map((dir) => [dir, host.org(dir)]));

// Both decide `file` for `kind` with the same options; the binding's batch
// (async and sync) and, record by record, its single calls must equal the program.
async function same(t, dir, kind, file, { now = NOW, emit = 'both', extra = [], options = {} } = {}) {
  const want = programLines(['--org-dir', dir, '--now', now, ...extra, kind, '--emit', emit, file]);
  assert.ok(want.length > 0, `the program wrote nothing for ${file}`);
  const org = orgs.get(dir);
  const bytes = fs.readFileSync(file);
  const opts = { now, emit, ...options };
  assert.deepStrictEqual(await org.decide(kind, bytes, opts), want, `${path.basename(file)}: decide`);
  assert.deepStrictEqual(org.decideSync(kind, bytes.toString(), { ...opts, jobs: 1 }), want, `${path.basename(file)}: decideSync`);
  // Equal objects could still order their keys differently: compare the text.
  assert.equal(JSON.stringify(await org.decide(kind, bytes, opts)), JSON.stringify(want));
  return want;
}

test('native CRM responses and the example leads, as the program decides them', async (t) => {
  const files = fs.readdirSync(path.join(examples, 'native')).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 3);
  for (const f of [...files.map((f) => path.join(examples, 'native', f)), path.join(examples, 'leads.jsonl')]) {
    for (const emit of ['decision', 'native', 'both']) {
      await same(t, strict, 'qualify', f, { emit });
    }
  }
});

test('native files of one record, bundled, as the program decides them', async () => {
  const bundle = path.join(examples, 'native', 'bundle');
  for (const f of fs.readdirSync(bundle).filter((f) => f.endsWith('.json') && !f.endsWith('.out.json'))) {
    const kind = f.endsWith('-convert.json') ? 'convert' : 'qualify';
    await same(null, strict, kind, path.join(bundle, f), { emit: 'native', extra: ['--bundle'], options: { bundle: true } });
  }
});

test('CRM samples of the loose org, as the program decides them', async () => {
  const samples = path.join(loose, 'samples');
  for (const f of fs.readdirSync(samples).filter((f) => /-(Leads|Opportunities)\.json$/.test(f))) {
    const kind = f.endsWith('-Leads.json') ? 'qualify' : 'forecast';
    await same(null, loose, kind, path.join(samples, f));
  }
});

test("every fixture's record, each kind, as the program decides it; one record at a time too", async () => {
  for (const dir of [strict, loose]) {
    const fixtures = path.join(dir, 'fixtures');
    // One JSON-lines file per decision kind and time: a few program runs.
    const groups = new Map();
    for (const f of fs.readdirSync(fixtures).filter((f) => f.endsWith('.json'))) {
      const fixture = JSON.parse(fs.readFileSync(path.join(fixtures, f), 'utf8'));
      if (fixture.input === undefined || fixture.decision === 'stages') continue;
      const key = `${fixture.decision} ${fixture.now}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(fixture.input);
    }
    assert.ok(groups.size >= 4, `${dir}: fixtures of every kind`);
    for (const [key, inputs] of groups) {
      const [kind, now] = key.split(' ');
      const file = writeScratch(`${path.basename(dir)}-${kind}-${now.replace(/:/g, '')}.jsonl`, inputs.map((i) => JSON.stringify(i)).join('\n') + '\n');
      const want = await same(null, dir, kind, file, { now });
      const org = orgs.get(dir);
      // The single-record calls give the same line as the batch, each record
      // the first of its own input.
      const single = inputs.map((input) => org[kind](input, { now, emit: 'both' }));
      assert.deepStrictEqual(single, want.map((line) => ({ ...line, position: 1 })), `${key}: one record at a time`);
      // An iterable of records is JSON lines: the same answers.
      assert.deepStrictEqual(await org.decide(kind, inputs.values(), { now, emit: 'both' }), want, `${key}: iterable`);
    }
  }
});

test('info and stages are what the program prints', () => {
  for (const [dir, org] of orgs) {
    // Where the compiled module came from depends on who compiled it first.
    const { origin, ...info } = org.info();
    const { origin: programOrigin, ...want } = programLines(['--org-dir', dir, 'info'])[0];
    assert.deepStrictEqual(info, want);
    assert.equal(typeof origin, 'string');
    assert.equal(typeof programOrigin, 'string');
    assert.deepStrictEqual(org.stages(), programLines(['--org-dir', dir, 'stages'])[0]);
  }
});
