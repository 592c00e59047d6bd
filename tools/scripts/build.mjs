#!/usr/bin/env node
// Production build: each service and the CLI bundled by esbuild into <project>/dist/*.js (CommonJS,
// Node 20, source maps). The workspace libraries (@glcert/*) are bundled in; every other package
// stays an external require() resolved from node_modules at run time: native addons
// (onnxruntime-node, sharp) cannot be bundled, and OpenTelemetry instruments @grpc/grpc-js by
// hooking its require(). Worker threads and the stack's child preload are entry points of their
// own, next to the main bundle, because the code starts them from `__dirname` (a `.js` sibling in
// the build, a `.ts` one through tsx in development). Output lives at the same depth as src/,
// so `__dirname`-relative defaults (models/, .glcert/) resolve to the same places.
//
//   node tools/scripts/build.mjs                 # every project
//   node tools/scripts/build.mjs certifier cli   # some (what each project's `build` target runs)
//
// Files are written to a temporary name and renamed, so a process starting while a build runs
// never loads half a file.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Project name -> its directory and entry points (relative to the project's src/). */
export const PROJECTS = {
  certifier: { dir: 'services/certifier', entries: ['main'] },
  sampler: { dir: 'services/sampler', entries: ['main'] },
  inference: { dir: 'services/inference', entries: ['main', 'inference-worker'] },
  bounds: { dir: 'services/bounds', entries: ['main', 'solver-worker'] },
  verifier: { dir: 'services/verifier', entries: ['main'] },
  cli: { dir: 'tools/cli', entries: ['main', 'stack-child'] },
};

/** Bundle the workspace's own packages; leave every other bare import to node_modules. */
const externalPackages = {
  name: 'external-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@glcert/') || args.path.startsWith('node:')) return undefined;
      return { path: args.path, external: true };
    });
  },
};

export async function buildProjects(names = Object.keys(PROJECTS), log = (line) => process.stderr.write(`${line}\n`)) {
  const esbuild = await import('esbuild');
  for (const name of names) {
    const project = PROJECTS[name];
    if (!project) throw new Error(`unknown project ${name} (one of ${Object.keys(PROJECTS).join(', ')})`);
    const started = Date.now();
    const outdir = join(ROOT, project.dir, 'dist');
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: project.entries.map((e) => join(ROOT, project.dir, 'src', `${e}.ts`)),
      outdir,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      sourcemap: true,
      // stack traces and span names keep the class and function names
      keepNames: true,
      tsconfig: join(ROOT, 'tsconfig.base.json'),
      plugins: [externalPackages],
      logLevel: 'warning',
      write: false,
    });
    for (const file of result.outputFiles) {
      mkdirSync(dirname(file.path), { recursive: true });
      const tmp = `${file.path}.${process.pid}.tmp`;
      writeFileSync(tmp, file.contents);
      renameSync(tmp, file.path);
    }
    const size = result.outputFiles.filter((f) => f.path.endsWith('.js')).reduce((s, f) => s + f.contents.length, 0);
    log(`build ${name}: ${relative(ROOT, outdir)}/{${project.entries.join(',')}}.js ${(size / 1024).toFixed(0)} KiB in ${Date.now() - started} ms`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildProjects(process.argv.length > 2 ? process.argv.slice(2) : undefined).catch((err) => {
    process.stderr.write(`build failed: ${err.message}\n`);
    process.exit(1);
  });
}
