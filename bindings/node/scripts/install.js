#!/usr/bin/env node
// Builds the native addon, crm-rules.node, from the checkout when the package is
// installed (`npm install ./bindings/node`, `npm ci`): cargo builds the crate
// (napi-rs's build script links it as Node loads it) into the workspace's target
// folder and the library is copied. Not napi-rs's CLI: it always passes
// `--target`, which compiles the whole library a second time in a folder of its
// own, and a project installing this folder gets no devDependencies anyway.
// Cargo rebuilds only what changed, so running it every time keeps the addon in
// step with the sources.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const addon = path.join(root, 'crm-rules.node');

function run(command, args, options) {
  const result = spawnSync(command, args, { cwd: root, ...options });
  if (result.error) {
    throw new Error(`cannot run ${command}: ${result.error.message} (building crm-rules needs Rust's cargo, https://rustup.rs)`);
  }
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.status}`);
  }
  return result;
}

function build() {
  // Cargo names the library it built: no guess about the target folder.
  // Inside the project's own checks the addon comes from the workspace's build,
  // whose features match the tests' (a build of this package alone compiles
  // wasmtime again with other features).
  const scope = process.env.CRM_RULES_BUILD_WORKSPACE ? ['--workspace'] : ['--lib', '--manifest-path', 'Cargo.toml'];
  const result = run('cargo', ['build', '--release', ...scope, '--message-format=json-render-diagnostics'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 256 << 20,
  });
  let built;
  for (const line of result.stdout.toString().split('\n')) {
    if (!line.startsWith('{')) continue;
    const message = JSON.parse(line);
    if (message.reason === 'compiler-artifact' && message.target.name === 'crm_rules_node') {
      built = message.filenames.find((f) => /\.(so|dylib|dll)$/.test(f));
    }
  }
  if (!built) throw new Error('cargo built no crm_rules_node library');
  fs.copyFileSync(built, addon);
}

try {
  build();
} catch (e) {
  console.error(`crm-rules: cannot build the native addon: ${e.message}`);
  process.exit(1);
}
