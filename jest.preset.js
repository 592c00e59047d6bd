// Shared jest settings: SWC transpiles TypeScript (type checking is the separate `typecheck`
// target), tests live next to the code, and only src/ is searched so stale dist/ files never run.
const path = require('node:path');

module.exports = {
  testEnvironment: path.join(__dirname, 'tools/jest-env/node-realm.js'),
  // one fast-check seed for every property (FC_SEED overrides it)
  setupFiles: [path.join(__dirname, 'tools/jest-env/fast-check-seed.js')],
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  roots: ['<rootDir>/src'],
  testMatch: ['**/*.spec.ts'],
  testTimeout: 30000,
};
