// The run half of `npm run test:containers` (tools/scripts/containers-test.sh builds the images):
//
//   node --import tsx deploy/src/containers/run.ts [TAG]
//
// 1. the certifier image without its key, and the bounds image without its cache volume: each exits 78
//    with a message naming the variable (CERTIFIER_SIGNING_KEY_FILE, BOUNDS_CACHE_DIR);
// 2. the cpu overlay, rendered and translated by ./pods.ts, played with `podman kube play
//    --network host` (sampler + inference in one pod, read-only root, uid 10001, the signing key
//    and public keys mounted read-only); waits for every service's grpc.health.v1 SERVING;
// 3. from the host, the CLI certifies an MNIST digit through the certifier and verifies the
//    certificate through the verifier, and offline with only the mounted key's public half; the
//    cli image verifies it too;
// 4. each service process runs its compiled bundle (no tsx), and nothing runs as root;
// 5. stops and removes every pod and container it started, also on failure or Ctrl-C.
//
// GLCERT_CONTAINERS_MEASURE=1 also prints, per service, the time from `kube play` to SERVING and
// the idle RSS (after the certification, from /proc), as a JSON line `measure {...}`.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { stringify } from 'yaml';
import { checkHealth, createHealthClient } from '@glcert/runtime';
import { REPO_ROOT, renderOverlay } from '../render';
import { MANIFEST_PORTS, playablePods } from './pods';

const TAG = process.argv[2] ?? 'dev';
const WORK = path.join(process.env['GLCERT_CONTAINERS_WORK'] ?? '/tmp/glcert-containers', 'run');
const PREFIX = 'glcert-ct-';
const UID = 10001;
const MEASURE = process.env['GLCERT_CONTAINERS_MEASURE'] === '1';
const CLI = path.join(REPO_ROOT, 'tools/cli/bin/glcert.js');
const IMAGE = path.join(REPO_ROOT, 'data/mnist-test/7-0856.png');

function log(msg: string): void {
  process.stderr.write(`[containers ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function fail(msg: string): never {
  throw new Error(msg);
}

function podman(args: string[], opts: { timeoutMs?: number; allowFail?: boolean } = {}): SpawnSyncReturns<string> {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (!opts.allowFail && r.status !== 0) fail(`podman ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '0.0.0.0', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** The smallest offset (a multiple of 100) at which every glcert port is free on this machine. */
async function freeOffset(): Promise<number> {
  for (let offset = 0; offset <= 5_000; offset += 100) {
    const ports = Object.values(MANIFEST_PORTS).map((p) => p + offset);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return offset;
  }
  return fail('no free block of glcert ports between 50051 and 55155');
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function cleanup(): void {
  const existing = podman(['pod', 'ls', '--format', '{{.Name}}'], { allowFail: true }).stdout.split('\n').filter((n) => n.startsWith(PREFIX));
  if (existing.length > 0) podman(['pod', 'rm', '--force', '--time', '10', ...existing], { allowFail: true, timeoutMs: 60_000 });
  podman(['rm', '--force', '--ignore', `${PREFIX}nokey`, `${PREFIX}nocache`], { allowFail: true });
}

function dumpLogs(): void {
  const r = podman(['ps', '--all', '--filter', `name=${PREFIX}`, '--format', '{{.Names}} {{.Status}}'], { allowFail: true });
  for (const line of r.stdout.trim().split('\n').filter(Boolean)) {
    const name = line.split(' ')[0];
    if (name.endsWith('-infra')) continue;
    log(`--- ${line}`);
    const logs = podman(['logs', '--tail', '30', name], { allowFail: true });
    process.stderr.write(`${logs.stdout}${logs.stderr}`);
  }
}

/** A key directory as the kubelet mounts a Secret with defaultMode 0440: root-owned, group-readable by the pod's gid. */
function prepareVolumes(): { hostPaths: Record<string, string>; publicKey: string } {
  rmSync(WORK, { recursive: true, force: true });
  const keys = path.join(WORK, 'signing-key');
  const publicKeys = path.join(WORK, 'public-keys');
  const cache = path.join(WORK, 'bounds-cache');
  for (const d of [keys, publicKeys, cache]) mkdirSync(d, { recursive: true, mode: 0o755 });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyFile = path.join(keys, 'signing-key.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  chownSync(keyFile, 0, UID);
  chmodSync(keyFile, 0o440);
  const pub = path.join(publicKeys, 'signing-key.pub.pem');
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  chmodSync(pub, 0o444);
  chownSync(cache, UID, UID);
  chmodSync(cache, 0o700);
  return {
    hostPaths: { 'secret/glcert-signing-key': keys, 'configMap/glcert-public-keys': publicKeys, 'pvc/bounds-cache': cache },
    publicKey: pub,
  };
}

/** 1: no key mounted, no bound cache volume -> exit 78 and a message, never EACCES / ENOENT. */
function checkMissingKey(offset: number): void {
  log('certifier without a signing key: expecting exit 78');
  const r = podman(
    ['run', '--rm', '--name', `${PREFIX}nokey`, '--network', 'host', '--read-only', '--user', `${UID}:${UID}`, '--cap-drop', 'ALL',
      '--security-opt', 'no-new-privileges', '-e', `CERTIFIER_PORT=${MANIFEST_PORTS.certifier + offset}`, `glcert/certifier:${TAG}`],
    { allowFail: true, timeoutMs: 60_000 },
  );
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 78) fail(`the certifier without a key exited ${r.status ?? r.signal}, not 78:\n${out.slice(-2000)}`);
  if (!/CERTIFIER_SIGNING_KEY_FILE: no signing key at \\?"\/var\/run\/secrets\/glcert\/signing-key\.pem\\?" \(CERTIFIER_SIGNING_KEY_CREATE=false\): mount an Ed25519 private key/.test(out)) fail(`exit 78 without the expected message:\n${out.slice(-2000)}`);
  if (out.includes('EACCES')) fail(`the message still mentions EACCES:\n${out.slice(-2000)}`);
  log('ok: exit 78, "CERTIFIER_SIGNING_KEY_FILE: no signing key at ..."');

  log('bounds without its cache volume: expecting exit 78');
  const b = podman(
    ['run', '--rm', '--name', `${PREFIX}nocache`, '--network', 'host', '--read-only', '--user', `${UID}:${UID}`, '--cap-drop', 'ALL',
      '-e', `BOUNDS_PORT=${MANIFEST_PORTS.bounds + offset}`, `glcert/bounds:${TAG}`],
    { allowFail: true, timeoutMs: 60_000 },
  );
  const bout = `${b.stdout}${b.stderr}`;
  if (b.status !== 78) fail(`bounds without a cache volume exited ${b.status ?? b.signal}, not 78:\n${bout.slice(-2000)}`);
  if (!/BOUNDS_CACHE_DIR: cannot use \\?"\/var\/cache\/glcert\/bounds\\?" as the bound cache \([A-Z]+\): mount a writable volume there/.test(bout)) fail(`exit 78 without the expected message:\n${bout.slice(-2000)}`);
  log('ok: exit 78, "BOUNDS_CACHE_DIR: cannot use ... (EROFS, ...): mount a writable volume there"');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls each service's health until SERVING; returns ms from `since` to each one's first SERVING. */
async function waitServing(offset: number, since: number, timeoutMs: number): Promise<Record<string, number>> {
  const clients = Object.fromEntries(Object.entries(MANIFEST_PORTS).map(([name, port]) => [name, createHealthClient(`127.0.0.1:${port + offset}`)]));
  const serving: Record<string, number> = {};
  try {
    while (Object.keys(serving).length < Object.keys(clients).length) {
      if (Date.now() - since > timeoutMs) fail(`not SERVING after ${timeoutMs / 1000} s: ${Object.keys(clients).filter((n) => !(n in serving)).join(', ')}`);
      const exited = podman(['ps', '--all', '--filter', `name=${PREFIX}`, '--filter', 'status=exited', '--format', '{{.Names}} {{.Status}}'], { allowFail: true }).stdout.trim();
      if (exited) fail(`a container exited: ${exited}`);
      await Promise.all(
        Object.entries(clients)
          .filter(([name]) => !(name in serving))
          .map(async ([name, c]) => {
            const status = await checkHealth(c, '', 1_000).catch(() => 'UNREACHABLE');
            if (status === 'SERVING') serving[name] = Date.now() - since;
          }),
      );
      await sleep(100);
    }
    return serving;
  } finally {
    for (const c of Object.values(clients)) c.close();
  }
}

interface Proc {
  container: string;
  pid: number;
  cmdline: string[];
  uid: number;
  rssKiB: number;
}

/** The main process of every glcert container, read from the host's /proc. */
function processes(): Proc[] {
  const names = podman(['ps', '--filter', `name=${PREFIX}`, '--format', '{{.Names}}']).stdout.trim().split('\n').filter((n) => n && !n.endsWith('-infra'));
  return names.map((container) => {
    const pid = Number(podman(['inspect', '--format', '{{.State.Pid}}', container]).stdout.trim());
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
    return { container, pid, cmdline, uid, rssKiB };
  });
}

async function main(): Promise<void> {
  cleanup();
  const offset = await freeOffset();
  const volumes = prepareVolumes();
  const port = (name: keyof typeof MANIFEST_PORTS) => MANIFEST_PORTS[name] + offset;

  checkMissingKey(offset);

  const pods = playablePods(renderOverlay('cpu'), { portOffset: offset, hostPaths: volumes.hostPaths, namePrefix: PREFIX });
  const images = new Set(pods.flatMap((p) => p.spec.containers.map((c) => c.image)));
  for (const image of images) if (!image.endsWith(`:${TAG}`)) fail(`the cpu overlay uses ${image}, not tag ${TAG}`);
  const file = path.join(WORK, 'pods.yaml');
  writeFileSync(file, pods.map((p) => stringify(p)).join('---\n'));
  log(`podman kube play --network host ${file}: pods ${pods.map((p) => p.metadata.name).join(', ')} (ports ${port('certifier')}-${port('verifier')})`);
  const started = Date.now();
  podman(['kube', 'play', '--network', 'host', file], { timeoutMs: 180_000 });
  const serving = await waitServing(offset, started, 180_000);
  log(`every service SERVING: ${Object.entries(serving).map(([n, ms]) => `${n} ${(ms / 1000).toFixed(1)} s`).join(', ')}`);

  // what runs: the bundles under node, as uid 10001, never tsx
  const procs = processes();
  if (procs.length !== 5) fail(`expected 5 glcert containers, found ${procs.map((p) => p.container).join(', ')}`);
  for (const p of procs) {
    const argv = p.cmdline.join(' ');
    if (!/^node --enable-source-maps services\/\w+\/dist\/main\.js$/.test(argv)) fail(`${p.container} runs "${argv}", not a compiled bundle`);
    if (p.uid !== UID) fail(`${p.container} runs as uid ${p.uid}`);
  }
  log(`processes: ${procs.map((p) => `${p.container.slice(PREFIX.length)}: ${p.cmdline.join(' ')} (uid ${p.uid})`).join('; ')}`);
  const readOnly = podman(['inspect', '--format', '{{.Name}} {{.HostConfig.ReadonlyRootfs}}', ...procs.map((p) => p.container)]).stdout.trim().split('\n');
  for (const line of readOnly) if (!line.endsWith(' true')) fail(`root filesystem not read-only: ${line}`);

  // certify through the certifier, verify through the verifier and offline
  const cert = path.join(WORK, 'cert.json');
  const c = cli(['certify', IMAGE, '--model', 'mnist-cnn', '--preset', 'brightness', '--seed', '7', '--certifier', `127.0.0.1:${port('certifier')}`, '--out', cert]);
  if (c.status !== 0) fail(`glcert certify exited ${c.status}:\n${c.stdout}${c.stderr}`);
  if (!/CERTIFIED/.test(c.stdout)) fail(`expected CERTIFIED for ${IMAGE}:\n${c.stdout}`);
  log('certified data/mnist-test/7-0856.png (mnist-cnn, brightness) through the certifier container');
  const viaVerifier = cli(['verify', cert, '--verifier', `127.0.0.1:${port('verifier')}`]);
  if (viaVerifier.status !== 0) fail(`glcert verify --verifier exited ${viaVerifier.status}:\n${viaVerifier.stdout}${viaVerifier.stderr}`);
  const offline = cli(['verify', cert, '--public-key', volumes.publicKey, '--no-default-keys']);
  if (offline.status !== 0) fail(`glcert verify with the mounted key's public half exited ${offline.status}:\n${offline.stdout}${offline.stderr}`);
  const wrongKey = path.join(WORK, 'other.pub.pem');
  writeFileSync(wrongKey, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
  if (cli(['verify', cert, '--public-key', wrongKey, '--no-default-keys']).status === 0) fail('the certificate verified with an unrelated public key');
  const inCli = podman(
    ['run', '--rm', '--network', 'none', '--read-only', '--user', `${UID}:${UID}`, '--cap-drop', 'ALL', '-v', `${WORK}:/work:ro`, `glcert/cli:${TAG}`,
      'verify', '/work/cert.json', '--public-key', '/work/public-keys/signing-key.pub.pem', '--no-default-keys'],
    { allowFail: true, timeoutMs: 60_000 },
  );
  if (inCli.status !== 0) fail(`glcert verify in the cli image exited ${inCli.status}:\n${inCli.stdout}${inCli.stderr}`);
  log('verified: by the verifier container, offline with the mounted key only (an unrelated key fails), and by the cli image');

  if (MEASURE) {
    await sleep(10_000); // idle
    const idle = processes();
    const sizes = Object.fromEntries(
      ['certifier', 'sampler', 'inference', 'bounds', 'verifier', 'cli'].map((t) => [t, Number(podman(['image', 'inspect', '--format', '{{.Size}}', `glcert/${t}:${TAG}`]).stdout.trim())]),
    );
    const rss = Object.fromEntries(idle.map((p) => [p.container.split('-').pop(), p.rssKiB]));
    process.stdout.write(`measure ${JSON.stringify({ tag: TAG, servingMs: serving, idleRssKiB: rss, imageBytes: sizes })}\n`);
  }
}

let finished = false;
const stop = (signal: NodeJS.Signals) => {
  if (finished) return;
  log(`${signal}: stopping the pods`);
  cleanup();
  process.exit(130);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

main()
  .then(() => {
    log('stopping the pods');
    cleanup();
    finished = true;
  })
  .catch((err: Error) => {
    log(`FAIL: ${err.message}`);
    dumpLogs();
    cleanup();
    finished = true;
    process.exitCode = 1;
  });
