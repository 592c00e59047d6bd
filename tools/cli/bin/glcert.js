#!/usr/bin/env node
// The glcert command runs the compiled CLI (tools/cli/dist, built by tools/scripts/build.mjs with
// esbuild), which in turn starts the compiled services (`glcert up`). In a development checkout
// (the TypeScript sources are here) the build is brought up to date first, so `npm ci && npm start`
// works on a fresh clone and an edited source is never run stale; in an image or installed package
// there are no sources and the build is simply run.
'use strict';
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join, resolve } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = resolve(__dirname, '..', '..', '..');
const main = join(__dirname, '..', 'dist', 'main.js');
const script = join(root, 'tools', 'scripts', 'build.mjs');

/** Newest modification time of the non-test TypeScript under dir (recursively). */
function newestSource(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Whether any build output the CLI needs is missing or older than a source it is built from. */
function stale() {
  const outputs = [main, ...['certifier', 'sampler', 'inference', 'bounds', 'verifier'].map((s) => join(root, 'services', s, 'dist', 'main.js'))];
  let oldest = Infinity;
  for (const o of outputs) {
    if (!existsSync(o)) return true;
    oldest = Math.min(oldest, statSync(o).mtimeMs);
  }
  const dirs = ['libs', 'services'].flatMap((d) => {
    try {
      return readdirSync(join(root, d)).map((p) => join(root, d, p, 'src'));
    } catch {
      return [];
    }
  });
  return Math.max(...[...dirs, join(__dirname, '..', 'src')].map(newestSource)) > oldest;
}

if (existsSync(join(__dirname, '..', 'src', 'main.ts')) && existsSync(script) && stale()) {
  const r = spawnSync(process.execPath, [script], { stdio: ['ignore', 2, 2] });
  if (r.status !== 0) {
    process.stderr.write(`glcert: the build failed (node ${script}); see above\n`);
    process.exit(r.status ?? 1);
  }
}
process.setSourceMapsEnabled(true); // stack traces point into the TypeScript sources
require(main);
