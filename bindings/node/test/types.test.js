// The shipped declarations (index.d.ts) type-check the documented uses and
// refuse misuses (test/types.ts marks each with @ts-expect-error).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

test('index.d.ts types the documented calls', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const here = path.resolve(__dirname, '..');
  const result = spawnSync(process.execPath, [tsc, '--strict', '--noEmit', '--module', 'commonjs', '--moduleResolution', 'node10', '--ignoreDeprecations', '6.0', '--target', 'es2022', path.join(here, 'test', 'types.ts')], { cwd: here, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});
