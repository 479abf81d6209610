// The package's interface: arguments checked and named, errors with classes and
// codes, record failures as the program's error lines, batches off the event
// loop, one engine shared by the orgs of a host.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Org, Host, LoadError, InputError, CrmRulesError } = require('..');
const { examples, NOW, host, programLines, writeScratch, scratch } = require('./support');

const strictDir = path.join(examples, 'strict');
const org = host.org(strictDir);
const lead = {
  id: 'L-1',
  company: 'Northwind',
  email: 'robin@northwind.example',
  source: 'web_form',
  budget_status: 'can_buy',
  decision_maker_known: true,
  need: 'must_have',
  timeframe: 'this_quarter',
};

test('qualify takes an object, JSON text or bytes, and answers with the decision line', () => {
  const answer = org.qualify(lead, { now: NOW });
  assert.equal(answer.id, 'L-1');
  assert.equal(answer.position, 1);
  assert.equal(answer.decision.outcome, 'qualified', JSON.stringify(answer));
  assert.deepStrictEqual(org.qualify(JSON.stringify(lead), { now: NOW }), answer);
  assert.deepStrictEqual(org.qualify(Buffer.from(JSON.stringify(lead)), { now: NOW }), answer);
  assert.deepStrictEqual(org.qualify(lead, { now: new Date(NOW) }), answer);
  const file = writeScratch('one-lead.json', JSON.stringify(lead));
  assert.deepStrictEqual(answer, programLines(['--org-dir', strictDir, '--now', NOW, 'qualify', file])[0]);
});

test('the decision time is an input: the follow-up moves with it', () => {
  const early = org.qualify(lead, { now: '2026-01-05T09:00:00Z' });
  const late = org.qualify(lead, { now: NOW });
  assert.notDeepStrictEqual(early, late);
});

test('a record that fails gets the error line the program writes, and costs that record only', async () => {
  const bad = { id: 'L-4', budget_status: 7 };
  const file = writeScratch('bad.jsonl', [JSON.stringify(lead), JSON.stringify(bad), JSON.stringify({ ...lead, id: 'L-5' })].join('\n'));
  const want = programLines(['--org-dir', strictDir, '--now', NOW, 'qualify', file]);
  const got = await org.decide('qualify', fs.readFileSync(file), { now: NOW });
  assert.deepStrictEqual(got, want);
  assert.equal(got.length, 3);
  assert.ok(got[1].error, 'the second line is an error');
  assert.match(JSON.stringify(got[1].error), /budget_status/);
  assert.equal(got[2].id, 'L-5');
  // Alone, the record is the first of its input.
  assert.deepStrictEqual(org.qualify(bad, { now: NOW }), { ...want[1], position: 1 });
});

test('arguments of the wrong type are TypeErrors naming the argument', () => {
  const cases = [
    [() => org.qualify(42, { now: NOW }), /^record: /],
    [() => org.qualify([lead], { now: NOW }), /^record: must be one record/],
    [() => org.qualify(lead, 'now'), /^options: /],
    [() => org.qualify(lead, { now: 12 }), /^options\.now: /],
    [() => org.qualify(lead, { user: 5 }), /^options\.user: /],
    [() => org.qualify(lead, { provenance: 'yes' }), /^options\.provenance: /],
    [() => org.decideSync(7, '{}'), /^kind: /],
    [() => org.decideSync('qualify', 7), /^data: /],
    [() => org.decideSync('qualify', [lead, 'x']), /^data\[1\]: /],
    [() => new Org(7), /^dir: /],
    [() => new Org(strictDir, { host: {} }), /^options\.host: /],
    [() => new Host({ cacheDir: 3 }), /^options\.cacheDir: /],
  ];
  for (const [call, message] of cases) {
    assert.throws(call, (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE' && message.test(e.message), String(message));
  }
});

test('argument values out of range are RangeErrors naming the argument', async () => {
  const cases = [
    [() => org.qualify(lead, { now: 'tomorrow' }), /^options\.now: "tomorrow" is not an RFC 3339 time/],
    [() => org.qualify(lead, { now: new Date('nope') }), /^options\.now: /],
    [() => org.qualify(lead, { emit: 'all' }), /^options\.emit: "all" is not one of/],
    [() => org.qualify(lead, { format: 'sap' }), /^options\.format: /],
    [() => org.qualify(lead, { jobs: 2 }), /^options\.jobs: not an option here/],
    [() => org.qualify(lead, { emitt: 'both' }), /^options\.emitt: not an option here/],
    [() => org.qualify('{"id": "L-1"}\n{"id": "L-2"}', { now: NOW }), /^record: holds 2 records/],
    [() => org.qualify('[{"id": "L-1"', { now: NOW }), /^record: /],
    [() => org.decideSync('score', '{}'), /^kind: "score" is not one of/],
    [() => org.decideSync('qualify', '{}', { jobs: 0 }), /^options\.jobs: /],
    [() => org.decideSync('qualify', '{}', { jobs: 1.5 }), /^options\.jobs: /],
    [() => new Host({ cache: false }), /^options\.cache: not an option here/],
  ];
  for (const [call, message] of cases) {
    assert.throws(call, (e) => e instanceof RangeError && e.code === 'ERR_INVALID_ARG_VALUE' && message.test(e.message), String(message));
  }
  await assert.rejects(org.decide('qualify', '{}', { emit: 'all' }), (e) => e instanceof RangeError && /^options\.emit: /.test(e.message));
});

test('an input that is not records at all is an InputError; the program refuses it too', async () => {
  const text = '[{"id": "L-1"}, {"id": ';
  await assert.rejects(org.decide('qualify', text, { now: NOW }), (e) => e instanceof InputError && e instanceof CrmRulesError && e.code === 'ERR_CRM_RULES_INPUT' && /^input: /.test(e.message));
  assert.throws(() => org.decideSync('qualify', text, { now: NOW }), InputError);
  const file = writeScratch('unreadable.json', text);
  assert.throws(() => programLines(['--org-dir', strictDir, '--now', NOW, 'qualify', file]));
});

test('an org folder that cannot be loaded is a LoadError saying why', () => {
  assert.throws(() => host.org(path.join(scratch, 'no-such-org')), (e) => e instanceof LoadError && e.code === 'ERR_CRM_RULES_LOAD' && /no-such-org/.test(e.message));
  assert.throws(() => host.org(''), (e) => e instanceof RangeError && /^dir: /.test(e.message));
});

test('a module that does not match its pin is refused as the program refuses it', () => {
  const dir = path.join(scratch, 'pinned');
  fs.cpSync(strictDir, dir, { recursive: true });
  const file = JSON.parse(fs.readFileSync(path.join(dir, 'org.json'), 'utf8'));
  file.sha256 = '0'.repeat(64);
  fs.writeFileSync(path.join(dir, 'org.json'), JSON.stringify(file));
  let message;
  assert.throws(() => host.org(dir), (e) => {
    message = e.message;
    return e instanceof LoadError;
  });
  let refused;
  try {
    programLines(['--org-dir', dir, 'info']);
  } catch (e) {
    refused = e.stderr.toString();
  }
  assert.ok(refused, 'the program refuses the org too');
  assert.match(message, /sha256|SHA-256|pin|hash/i);
});

test('decide runs off the event loop', async () => {
  const lines = [];
  for (let i = 0; i < 20000; i += 1) lines.push(JSON.stringify({ ...lead, id: `L-${i}` }));
  const input = lines.join('\n');
  let ticks = 0;
  const timer = setInterval(() => {
    ticks += 1;
  }, 1);
  const answers = await org.decide('qualify', input, { now: NOW, jobs: 1 });
  clearInterval(timer);
  assert.equal(answers.length, 20000);
  assert.equal(answers[19999].id, 'L-19999');
  assert.ok(ticks > 0, 'timers ran while the batch was decided');
  // Several deciding threads give the same answers in the same order.
  assert.deepStrictEqual(await org.decide('qualify', input, { now: NOW, jobs: 2 }), answers);
});

test('a host shares its engine between orgs; the default host serves new Org(dir)', async () => {
  const shared = new Host({ cacheDir: null });
  const a = shared.org(strictDir);
  const b = shared.org(path.join(examples, 'loose'));
  assert.equal(a.id, 'strict-co');
  assert.equal(b.id, 'loose-ltd');
  assert.equal(a.dir, strictDir);
  assert.deepStrictEqual(a.qualify(lead, { now: NOW }), org.qualify(lead, { now: NOW }));
  assert.equal(b.info().org, 'loose-ltd');
  const own = new Org(strictDir);
  assert.equal(own.info().hash, org.info().hash);
  const results = await Promise.all([a.decide('qualify', [lead], { now: NOW }), b.decide('qualify', [lead], { now: NOW })]);
  assert.equal(results[0][0].id, 'L-1');
  assert.equal(results[1][0].id, 'L-1');
});

test('transition takes the stage to move to from the options, as --to', () => {
  const opportunity = { opportunity: { id: 'O-1', stage: 'Qualify', account_id: 'A-1', contact_id: 'C-1' } };
  const file = writeScratch('move.json', JSON.stringify(opportunity));
  const want = programLines(['--org-dir', strictDir, '--now', NOW, 'transition', '--to', 'Develop', file]);
  assert.deepStrictEqual([org.transition(opportunity, { now: NOW, to: 'Develop' })], want);
});
