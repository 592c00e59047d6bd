// Start-up time and idle memory of the service images, one container at a time, the same way
// for any set of images (the figures in deploy/README.md, before and after compiled bundles):
//
//   node --import tsx deploy/src/containers/measure.ts glcert/%s:dev [glcert-tsx/%s:before ...] [--runs 3]
//
// For each image pattern (%s = target) it starts, in dependency order, inference, bounds,
// sampler, verifier, certifier with `podman run -d` as the manifests run them (host network,
// read-only root, uid 10001, /tmp a tmpfs, the key and public keys mounted), and records the
// time from `podman run` to grpc.health.v1 SERVING, then after 10 s idle the RSS of each
// container's node process (/proc, host view), and each image's size. The key directory is
// mounted writable here only because images before the key-loading fix wrote `<key>.pub.pem`
// next to the key. Prints one JSON line per image pattern and run.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkHealth, createHealthClient } from '@glcert/runtime';
import { MANIFEST_PORTS } from './pods';

const UID = 10001;
const OFFSET = 300;
const WORK = path.join(process.env['GLCERT_CONTAINERS_WORK'] ?? '/tmp/glcert-containers', 'measure');
const ORDER = ['inference', 'bounds', 'sampler', 'verifier', 'certifier'] as const;
type Service = (typeof ORDER)[number];
const port = (s: Service) => MANIFEST_PORTS[s] + OFFSET;

function podman(args: string[], allowFail = false): string {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout: 120_000 });
  if (!allowFail && r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function serving(service: Service, since: number, name: string): Promise<number> {
  const client = createHealthClient(`127.0.0.1:${port(service)}`);
  try {
    for (;;) {
      if ((await checkHealth(client, '', 1_000).catch(() => 'DOWN')) === 'SERVING') return Date.now() - since;
      if (Date.now() - since > 120_000) throw new Error(`${name} not SERVING after 120 s: ${podman(['logs', '--tail', '20', name], true)}`);
      await sleep(50);
    }
  } finally {
    client.close();
  }
}

function env(service: Service): Record<string, string> {
  const local = (s: Service) => `127.0.0.1:${port(s)}`;
  const common = { OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' };
  switch (service) {
    case 'inference':
      return { ...common, INFERENCE_PORT: String(port('inference')), INFERENCE_WORKERS: '1' };
    case 'bounds':
      return { ...common, BOUNDS_PORT: String(port('bounds')), BOUNDS_CACHE_DIR: '/tmp/bounds-cache' };
    case 'sampler':
      return { ...common, SAMPLER_PORT: String(port('sampler')), INFERENCE_ADDR: local('inference') };
    case 'verifier':
      return { ...common, VERIFIER_PORT: String(port('verifier')), BOUNDS_ADDR: local('bounds'), SAMPLER_ADDRS: local('sampler'), VERIFIER_PUBLIC_KEYS_DIR: '/etc/glcert/public-keys' };
    case 'certifier':
      return { ...common, CERTIFIER_PORT: String(port('certifier')), BOUNDS_ADDR: local('bounds'), SAMPLER_ADDRS: local('sampler'), CERTIFIER_SIGNING_KEY_FILE: '/var/run/secrets/glcert/signing-key.pem' };
  }
}

function rssKiB(name: string): number {
  const pid = podman(['inspect', '--format', '{{.State.Pid}}', name]);
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

async function measure(pattern: string): Promise<void> {
  const image = (s: Service | 'cli') => pattern.replace('%s', s);
  const names = ORDER.map((s) => `glcert-measure-${s}`);
  podman(['rm', '--force', '--ignore', ...names], true);
  rmSync(WORK, { recursive: true, force: true });
  const keys = path.join(WORK, 'keys');
  mkdirSync(keys, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(path.join(keys, 'signing-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(path.join(keys, 'signing-key.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  chownSync(keys, UID, UID);
  chownSync(path.join(keys, 'signing-key.pem'), UID, UID);
  chmodSync(path.join(keys, 'signing-key.pem'), 0o400);
  const servingMs: Partial<Record<Service, number>> = {};
  const idleRssMiB: Partial<Record<Service, number>> = {};
  try {
    for (const s of ORDER) {
      const name = `glcert-measure-${s}`;
      const args = ['run', '-d', '--name', name, '--network', 'host', '--read-only', '--tmpfs', '/tmp:rw,mode=1777', '--user', `${UID}:${UID}`, '--cap-drop', 'ALL'];
      for (const [k, v] of Object.entries(env(s))) args.push('-e', `${k}=${v}`);
      if (s === 'certifier') args.push('-v', `${keys}:/var/run/secrets/glcert`);
      if (s === 'verifier') args.push('-v', `${keys}:/etc/glcert/public-keys:ro`);
      const started = Date.now();
      podman([...args, image(s)]);
      servingMs[s] = await serving(s, started, name);
    }
    await sleep(10_000);
    for (const s of ORDER) idleRssMiB[s] = Math.round(rssKiB(`glcert-measure-${s}`) / 102.4) / 10;
  } finally {
    podman(['rm', '--force', '--time', '5', ...names], true);
  }
  const imageMB = Object.fromEntries([...ORDER, 'cli' as const].map((t) => [t, Math.round(Number(podman(['image', 'inspect', '--format', '{{.Size}}', image(t)], true) || NaN) / 1e6)]));
  process.stdout.write(`${JSON.stringify({ images: pattern, servingMs, idleRssMiB, imageMB })}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runsAt = args.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 1;
  for (let r = 0; r < runs; r++) for (const pattern of args) await measure(pattern);
}

main().catch((err: Error) => {
  process.stderr.write(`measure failed: ${err.message}\n`);
  process.exitCode = 1;
});
