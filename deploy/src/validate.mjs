#!/usr/bin/env node
// Offline validation of rendered Kubernetes manifests (no cluster, no kubeconform here).
//
//   node deploy/src/validate.mjs deploy/k8s/overlays/cpu deploy/k8s/overlays/gpu [more.yaml ...]
//
// Each argument is a kustomization directory (rendered with `kubectl kustomize`) or a YAML file.
// Every object is checked twice:
//   1. schema: the kubernetes-models class for its apiVersion/kind (e.g. apps/v1 -> Deployment)
//      is constructed and `.validate()`d: types, required fields, enums, formats;
//   2. fields: every field must exist in that model's type definitions (.d.ts). The JSON schemas
//      of kubernetes-models do not reject unknown properties, and a misspelt `readinesProbe`
//      would otherwise pass silently (the API server drops or rejects it).
// A kind with no model (a CRD, a typo) fails loudly. Exit code 1 on any error, 2 on bad usage.
//
// ESM only because kubernetes-models is ESM only.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** Render a kustomization directory, or read a YAML file, into plain objects. */
export function loadObjects(target) {
  const isDir = statSync(target).isDirectory();
  const text = isDir
    ? execFileSync('kubectl', ['kustomize', target], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] })
    : readFileSync(target, 'utf8');
  const objects = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${target}: YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

/** The kubernetes-models module for an apiVersion/kind: `apps/v1` + `Deployment` -> kubernetes-models/apps/v1/Deployment. */
function modelSpecifier(apiVersion, kind) {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

function describe(obj) {
  const ns = obj?.metadata?.namespace ? `${obj.metadata.namespace}/` : '';
  return `${obj?.apiVersion ?? '<no apiVersion>'} ${obj?.kind ?? '<no kind>'} ${ns}${obj?.metadata?.name ?? '<no name>'}`;
}

// ---- strict fields: property names from the models' .d.ts interfaces ---------------------------

const dtsCache = new Map();

function dtsPathOf(specifier, fromFile) {
  let jsPath;
  if (specifier.startsWith('.')) jsPath = path.resolve(path.dirname(fromFile), specifier);
  else jsPath = fileURLToPath(import.meta.resolve(specifier));
  return jsPath.replace(/\.js$/, '') + '.d.ts';
}

/** { props: Map<name, typeText>, imports: Map<identifier, dtsPath> } for the file's interface, or null for a type alias (a leaf). */
function parseDts(file) {
  if (dtsCache.has(file)) return dtsCache.get(file);
  const src = readFileSync(file, 'utf8');
  const imports = new Map();
  for (const m of src.matchAll(/^import \{([^}]+)\} from "([^"]+)";$/gm)) {
    for (const ident of m[1].split(',').map((s) => s.trim()).filter(Boolean)) imports.set(ident, m[2]);
  }
  const iface = /^export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/m.exec(src);
  let parsed = null;
  if (iface) {
    const body = iface[1].replace(/\/\*\*[\s\S]*?\*\//g, '');
    const props = new Map();
    for (const m of body.matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)) props.set(m[1], m[2].replace(/;$/, '').trim());
    parsed = { file, props, imports };
  }
  dtsCache.set(file, parsed);
  return parsed;
}

/** The .d.ts describing a property's object type, or null when the value is a leaf (scalar, map, alias). */
function objectTypeOf(typeText, owner) {
  const element = /^Array<(\w+)>$/.exec(typeText);
  const name = element ? element[1] : typeText;
  if (!/^\w+$/.test(name) || !owner.imports.has(name)) return null;
  return parseDts(dtsPathOf(owner.imports.get(name), owner.file));
}

function checkFields(value, type, pointer, errors) {
  if (type === null || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkFields(item, type, `${pointer}/${i}`, errors));
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    if (!type.props.has(key)) {
      errors.push(`${pointer}/${key}: unknown field "${key}" (not in ${path.basename(type.file, '.d.ts')})`);
      continue;
    }
    checkFields(child, objectTypeOf(type.props.get(key), type), `${pointer}/${key}`, errors);
  }
}

// ---- one object -----------------------------------------------------------------------------

/** Errors (strings) for one object; empty when it is valid. */
export async function validateObject(obj) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return ['document is not an object'];
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== 'string' || !/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion)) return [`bad or missing apiVersion: ${JSON.stringify(apiVersion)}`];
  if (typeof kind !== 'string' || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return [`bad or missing kind: ${JSON.stringify(kind)}`];
  if (typeof obj.metadata?.name !== 'string' || obj.metadata.name === '') return ['metadata.name is missing'];

  const specifier = modelSpecifier(apiVersion, kind);
  let Model;
  try {
    Model = (await import(specifier))[kind];
  } catch (err) {
    if (err?.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED' && err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  }
  if (typeof Model !== 'function' || Model.apiVersion !== apiVersion || Model.kind !== kind) {
    return [`unknown kind: no Kubernetes schema for apiVersion "${apiVersion}", kind "${kind}" (looked for ${specifier})`];
  }

  const errors = [];
  try {
    new Model(obj).validate();
  } catch (err) {
    const details = Array.isArray(err?.errors) ? err.errors : null;
    if (!details) errors.push(`schema: ${err?.message ?? err}`);
    else for (const e of details) errors.push(`${e.instancePath || '/'}: ${e.message}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`);
  }
  checkFields(obj, parseDts(dtsPathOf(specifier, fileURLToPath(import.meta.url))), '', errors);
  return errors;
}

/** Validate every object of every target: [{ target, object, errors[] }] plus duplicate-object errors. */
export async function validateTargets(targets) {
  const results = [];
  for (const target of targets) {
    let objects;
    try {
      objects = loadObjects(target);
    } catch (err) {
      results.push({ target, object: '<render>', errors: [String(err?.stderr || err?.message || err).trim()] });
      continue;
    }
    if (objects.length === 0) results.push({ target, object: '<render>', errors: ['no objects rendered'] });
    const seen = new Set();
    for (const obj of objects) {
      const errors = await validateObject(obj);
      const key = `${obj?.apiVersion}/${obj?.kind}/${obj?.metadata?.namespace ?? ''}/${obj?.metadata?.name}`;
      if (seen.has(key)) errors.push('duplicate object (same apiVersion, kind, namespace and name)');
      seen.add(key);
      results.push({ target, object: describe(obj), errors });
    }
  }
  return results;
}

async function main(argv) {
  if (argv.length === 0 || argv.includes('-h') || argv.includes('--help')) {
    console.error('usage: node deploy/src/validate.mjs <kustomization dir | manifest.yaml> [...]');
    return 2;
  }
  const missing = argv.filter((t) => !existsSync(t));
  if (missing.length > 0) {
    console.error(`validate: no such file or directory: ${missing.join(', ')}`);
    return 2;
  }
  const results = await validateTargets(argv);
  let failed = 0;
  for (const r of results) {
    if (r.errors.length === 0) continue;
    failed++;
    for (const e of r.errors) console.error(`${r.target}: ${r.object}: ${e}`);
  }
  for (const target of argv) {
    const mine = results.filter((r) => r.target === target);
    console.log(`${target}: ${mine.length - mine.filter((r) => r.errors.length).length}/${mine.length} objects valid`);
  }
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { console.error(err?.stack ?? err); process.exitCode = 1; },
  );
}
