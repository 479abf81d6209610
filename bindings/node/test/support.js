// What the tests share: the repository's paths, the crm-rules program (its
// answers are what the binding must equal), and one host whose compiled-module
// cache lives in a temporary folder the program uses too.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Host } = require('..');

const root = path.resolve(__dirname, '..', '..', '..');
const examples = path.join(root, 'examples');
const NOW = '2026-11-25T09:00:00Z';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-rules-node-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
const cache = ['--cache-dir', path.join(scratch, 'cache'), '--cache-key', path.join(scratch, 'cache.key')];
const host = new Host({ cacheDir: path.join(scratch, 'cache'), cacheKey: path.join(scratch, 'cache.key') });

// The program, as CI builds it (`cargo build --release -p crm-rules-cli`).
function program() {
  const bin = process.env.CRM_RULES_BIN || path.join(root, 'target', 'release', 'crm-rules');
  if (!fs.existsSync(bin)) {
    throw new Error(`the crm-rules program is not at ${bin}: build it (cargo build --release -p crm-rules-cli) or set CRM_RULES_BIN`);
  }
  return bin;
}

// The program's output lines for `args`, parsed; record errors make it exit 1
// and still write their lines, so the exit code is not an answer here.
function programLines(args) {
  let stdout;
  try {
    stdout = execFileSync(program(), [...cache, ...args], { cwd: root, maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (e.status !== 1 || e.stdout === undefined) throw e;
    stdout = e.stdout;
  }
  return stdout.toString().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

function writeScratch(name, text) {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, text);
  return file;
}

module.exports = { root, examples, NOW, host, program, programLines, writeScratch, scratch };
