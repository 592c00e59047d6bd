// Structural lint of deploy/docker/Dockerfile and its .dockerignore (hadolint is not available
// here; when it is on PATH it runs too). No docker engine is needed.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  baseImage,
  dockerignoreExcludes,
  effectiveInstruction,
  execArgv,
  exposedPorts,
  imageEnv,
  lineage,
  parseDockerfile,
  stage,
} from './dockerfile';
import { DEPLOY_ROOT, REPO_ROOT, container, containersOf, effectiveEnv, podTemplate, podTemplates, renderOverlay } from './render';

const DOCKERFILE = path.join(DEPLOY_ROOT, 'docker', 'Dockerfile');
const DOCKERIGNORE = path.join(DEPLOY_ROOT, 'docker', 'Dockerfile.dockerignore');
const text = readFileSync(DOCKERFILE, 'utf8');
const df = parseDockerfile(text);
const ignore = readFileSync(DOCKERIGNORE, 'utf8').split('\n');

const SERVICES: Record<string, number> = { certifier: 50051, sampler: 50052, inference: 50053, bounds: 50054, verifier: 50055 };
const TARGETS = [...Object.keys(SERVICES), 'inference-gpu', 'cli'];

describe('Dockerfile', () => {
  it('has a target per image: the five services, the GPU inference image and the CLI', () => {
    for (const t of TARGETS) expect(stage(df, t).name).toBe(t);
  });

  it('pins every base image to an explicit tag, never latest', () => {
    const external = df.stages.filter((s) => !df.stages.some((x) => x.name === s.image));
    expect(external.length).toBeGreaterThan(0);
    for (const s of external) {
      expect(s.image).not.toMatch(/\$/); // every ARG it uses has a default
      const tag = /:([^/:@]+)$/.exec(s.image)?.[1];
      expect([s.image, tag !== undefined && tag !== 'latest']).toEqual([s.image, true]);
    }
  });

  it('runs every target as the non-root uid 10001, never root', () => {
    for (const t of TARGETS) {
      const user = effectiveInstruction(df, stage(df, t), 'USER')?.args;
      expect([t, user]).toEqual([t, '10001:10001']);
    }
    for (const s of df.stages) for (const u of s.instructions.filter((i) => i.keyword === 'USER')) expect(u.args).not.toMatch(/^(root|0)(:|$)/);
  });

  it('installs once with npm ci from the lockfile, and ships production dependencies only', () => {
    const runs = df.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const installs = runs.filter((r) => /\bnpm (ci|install|i)\b/.test(r));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/\bnpm ci\b/);
    // the build stage needs esbuild (a dev dependency); the images get the tree pruned to production
    expect(stage(df, 'deps').image).toBe('deps-all');
    expect(stage(df, 'deps').instructions.find((i) => i.keyword === 'RUN')?.args).toMatch(/^npm prune --omit=dev\b/);
    expect(imageEnv(df, stage(df, 'deps')).NODE_ENV).toBe('production');
    // the final images take node_modules from the dependency stages only
    for (const t of TARGETS) {
      const copies = lineage(df, stage(df, t)).flatMap((s) => s.instructions.filter((i) => i.keyword === 'COPY' && /\/node_modules\b/.test(i.args)));
      expect(copies.map((c) => /--from=(\S+)/.exec(c.args)?.[1])).toEqual([t === 'inference-gpu' ? 'deps-gpu' : 'deps']);
    }
  });

  it('keeps the CPU images free of the CUDA download, and installs CUDA 12 for the GPU image', () => {
    expect(imageEnv(df, stage(df, 'deps')).ONNXRUNTIME_NODE_INSTALL).toBe('skip');
    expect(stage(df, 'deps-all').instructions.find((i) => i.keyword === 'RUN')?.args).toMatch(/\bnpm ci --ignore-scripts\b/);
    const gpuInstall = stage(df, 'deps-gpu').instructions.find((i) => i.keyword === 'RUN')?.args ?? '';
    expect(gpuInstall).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js/);
    expect(gpuInstall).toMatch(/test -f \S*libonnxruntime_providers_cuda\.so/);
  });

  it('builds the GPU inference image on a CUDA runtime with CUDA first, CPU as fallback', () => {
    const gpu = stage(df, 'inference-gpu');
    expect(baseImage(df, gpu)).toMatch(/^nvidia\/cuda:12\.[\d.]+-cudnn-runtime-/);
    expect(imageEnv(df, gpu).INFERENCE_EXECUTION_PROVIDERS).toBe('cuda,cpu');
    expect(imageEnv(df, stage(df, 'inference')).INFERENCE_EXECUTION_PROVIDERS).toBe('cpu');
  });

  it('starts each service as `node --enable-source-maps services/<name>/dist/main.js` in exec form (node is PID 1 and gets SIGTERM)', () => {
    for (const [name, port] of Object.entries(SERVICES)) {
      for (const t of name === 'inference' ? ['inference', 'inference-gpu'] : [name]) {
        const s = stage(df, t);
        expect([t, execArgv(df, s)]).toEqual([t, ['node', '--enable-source-maps', `services/${name}/dist/main.js`]]);
        // its bundle comes from the build stage, and nothing else of the workspace's code
        const code = lineage(df, s).flatMap((st) => st.instructions.filter((i) => i.keyword === 'COPY' && /\b(services|libs|tools)\//.test(i.args)).map((i) => i.args));
        expect([t, code]).toEqual([t, [`--from=build /app/services/${name}/dist ./services/${name}/dist`]]);
        const env = imageEnv(df, s);
        expect([t, env[`${name.toUpperCase()}_HOST`], env[`${name.toUpperCase()}_PORT`]]).toEqual([t, '0.0.0.0', String(port)]);
        expect(exposedPorts(df, s)).toEqual([port]);
        expect(effectiveInstruction(df, s, 'WORKDIR')?.args).toBe('/app');
      }
    }
    expect(execArgv(df, stage(df, 'cli'))?.slice(0, 2)).toEqual(['node', 'tools/cli/bin/glcert.js']);
  });

  it('runs no TypeScript: no tsx, no .ts entry point, the bundles built by tools/scripts/build.mjs', () => {
    for (const ins of df.instructions) expect([ins.line, /\btsx\b|\.ts\b/.test(ins.args)]).toEqual([ins.line, false]);
    expect(stage(df, 'build').instructions.find((i) => i.keyword === 'RUN')?.args).toBe('node tools/scripts/build.mjs');
    const cliCopies = stage(df, 'cli').instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    expect(cliCopies).toContain('--from=build /app/tools/cli/dist ./tools/cli/dist');
  });

  it('the certifier image only reads its mounted key (CERTIFIER_SIGNING_KEY_CREATE=false) at the path the manifests mount', () => {
    const env = imageEnv(df, stage(df, 'certifier'));
    expect(env.CERTIFIER_SIGNING_KEY_CREATE).toBe('false');
    expect(env.CERTIFIER_SIGNING_KEY_FILE).toBe('/var/run/secrets/glcert/signing-key.pem');
  });

  it('points the images at the mounted key, public keys and bound cache exactly where the manifests mount them', () => {
    const objects = renderOverlay('cpu');
    for (const [t, variable] of [['certifier', 'CERTIFIER_SIGNING_KEY_FILE'], ['bounds', 'BOUNDS_CACHE_DIR'], ['verifier', 'VERIFIER_PUBLIC_KEYS_DIR']] as const) {
      const spec = podTemplate(objects, 'Deployment', t).spec;
      const manifest = effectiveEnv(container(spec, t), { namespace: 'glcert' })[variable];
      expect([t, imageEnv(df, stage(df, t))[variable]]).toEqual([t, manifest]);
      // and that path is on a mounted volume (the image's root filesystem is read-only)
      expect(container(spec, t).volumeMounts?.some((m) => manifest.startsWith(m.mountPath))).toBe(true);
    }
  });

  it('uses COPY, not ADD, and no HEALTHCHECK (Kubernetes probes do that)', () => {
    const keywords = new Set(df.instructions.map((i) => i.keyword));
    expect(keywords.has('ADD')).toBe(false);
    expect(keywords.has('HEALTHCHECK')).toBe(false);
  });

  it('builds every glcert image the manifests use', () => {
    for (const overlay of ['cpu', 'gpu'] as const) {
      for (const t of podTemplates(renderOverlay(overlay))) {
        for (const { container: c } of containersOf(t.spec)) {
          const m = /^glcert\/([\w-]+):/.exec(c.image);
          if (m) expect([c.image, df.stages.some((s) => s.name === m[1])]).toEqual([c.image, true]);
        }
      }
    }
  });

  it('passes hadolint when it is installed', () => {
    const r = spawnSync('hadolint', [DOCKERFILE], { encoding: 'utf8' });
    if (r.error) return; // not installed here: the checks above stand in for it
    expect(r.stdout + r.stderr).toBe('');
  });
});

describe('Dockerfile.dockerignore', () => {
  const rootPackage = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };

  it('is an allowlist: everything excluded unless named', () => {
    expect(ignore.map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'))).toBe('*');
    expect(dockerignoreExcludes(ignore, 'README.md')).toBe(true);
    expect(dockerignoreExcludes(ignore, 'deploy/k8s/base/kustomization.yaml')).toBe(true);
  });

  it('sends every npm workspace manifest (npm ci needs them all) and the sources and models', () => {
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json', ...rootPackage.workspaces.map((w) => `${w}/package.json`)]) {
      expect([f, dockerignoreExcludes(ignore, f)]).toEqual([f, false]);
    }
    for (const f of ['services/certifier/src/main.ts', 'libs/stats/src/index.ts', 'tools/cli/bin/glcert.js', 'models/mnist-cnn.onnx']) {
      expect([f, dockerignoreExcludes(ignore, f)]).toEqual([f, false]);
    }
  });

  it('never sends installed trees, build output, tests, training code or keys', () => {
    for (const f of ['node_modules/tsx/package.json', 'libs/stats/node_modules/x/index.js', '.git/HEAD', 'services/certifier/dist/main.js', 'libs/stats/src/philox.spec.ts', 'tools/train/train_mnist.py', 'signing-key.pem', 'services/certifier/dev.pem', '.env']) {
      expect([f, dockerignoreExcludes(ignore, f)]).toEqual([f, true]);
    }
  });
});

describe('dockerignore matching', () => {
  it('follows Docker semantics: last match wins, ! re-includes, directories cover their contents', () => {
    expect(dockerignoreExcludes(['*', '!libs/'], 'libs/a/b.ts')).toBe(false);
    expect(dockerignoreExcludes(['*', '!libs/', '**/*.spec.ts'], 'libs/a/b.spec.ts')).toBe(true);
    expect(dockerignoreExcludes(['**/node_modules'], 'node_modules/x')).toBe(true);
    expect(dockerignoreExcludes(['docs/*.md'], 'docs/a/b.md')).toBe(false);
    expect(dockerignoreExcludes([], 'a')).toBe(false);
  });
});

describe('the Dockerfile reader', () => {
  it('joins continuation lines and follows stage lineage', () => {
    const d = parseDockerfile('ARG BASE=node:20\nFROM ${BASE} AS a\nENV X=1 \\\n    Y="two words"\nUSER 1:1\nFROM a AS b\nCMD ["node", "x.js"]\n');
    expect(d.stages.map((s) => [s.name, s.image])).toEqual([['a', 'node:20'], ['b', 'a']]);
    expect(imageEnv(d, stage(d, 'b'))).toEqual({ X: '1', Y: 'two words' });
    expect(effectiveInstruction(d, stage(d, 'b'), 'USER')?.args).toBe('1:1');
    expect(baseImage(d, stage(d, 'b'))).toBe('node:20');
    expect(execArgv(d, stage(d, 'b'))).toEqual(['node', 'x.js']);
    expect(execArgv(parseDockerfile('FROM x:1\nCMD node x.js\n'), parseDockerfile('FROM x:1\nCMD node x.js\n').stages[0])).toBeNull();
  });
});

