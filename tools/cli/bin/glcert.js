#!/usr/bin/env node
// Runs the TypeScript CLI through tsx so `npx glcert` works right after `npm ci`, no build step.
require('tsx/cjs');
require('../src/main.ts');
