// The example in docs/bindings.md runs as written, from the repository's root,
// with the package installed as a project installs it (node_modules/crm-rules).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { root, scratch } = require('./support');

// The first js block after `heading` in `file`.
function exampleIn(file, heading) {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const at = text.indexOf(heading);
  assert.ok(at >= 0, `${file} has a "${heading}" section`);
  const example = /```js\n([\s\S]*?)```/.exec(text.slice(at));
  assert.ok(example, `${file} has a js example under "${heading}"`);
  return example;
}

test("the README's Node.js example is the documentation's", () => {
  assert.equal(exampleIn('README.md', '### From Node.js')[1], exampleIn('docs/bindings.md', '## Node.js')[1]);
});

test("the documentation's Node.js example runs", () => {
  const example = exampleIn('docs/bindings.md', '## Node.js');
  assert.ok(example[1].trim().split('\n').length <= 5, 'the example is five lines at most');
  const project = path.join(scratch, 'project');
  fs.mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  fs.symlinkSync(path.resolve(__dirname, '..'), path.join(project, 'node_modules', 'crm-rules'), 'dir');
  const script = path.join(project, 'example.js');
  fs.writeFileSync(script, example[1]);
  const run = spawnSync(process.execPath, [script], { cwd: root, encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: path.join(scratch, 'xdg-cache'), XDG_CONFIG_HOME: path.join(scratch, 'xdg-config') } });
  assert.equal(run.status, 0, run.stderr);
  const [outcome, count] = run.stdout.trim().split('\n');
  assert.match(outcome, /^(qualified|nurture|disqualified|needs_information)$/);
  assert.ok(Number(count) > 0, run.stdout);
});
