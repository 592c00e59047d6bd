// The real services as separate processes on loopback (`node --import tsx services/<s>/src/main.ts`),
// each with its own environment: one inference sidecar shared by N samplers, the bound service,
// the certifier, optionally the verifier. Every process's stdout/stderr is captured (JSON log
// lines), its RSS can be read from /proc, and any one can be killed or restarted on its port.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { createHealthClient, waitForServing } from '@glcert/runtime';
import { MODELS_DIR, ROOT } from './fixtures';

export type ServiceKind = 'inference' | 'sampler' | 'bounds' | 'certifier' | 'verifier';

const MAIN: Record<ServiceKind, string> = {
  inference: 'services/inference/src/main.ts',
  sampler: 'services/sampler/src/main.ts',
  bounds: 'services/bounds/src/main.ts',
  certifier: 'services/certifier/src/main.ts',
  verifier: 'services/verifier/src/main.ts',
};
const PORT_VAR: Record<ServiceKind, string> = {
  inference: 'INFERENCE_PORT',
  sampler: 'SAMPLER_PORT',
  bounds: 'BOUNDS_PORT',
  certifier: 'CERTIFIER_PORT',
  verifier: 'VERIFIER_PORT',
};

export type Env = Record<string, string | undefined>;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceProcess {
  /** `sampler-1`, `certifier`, ... */
  readonly name: string;
  readonly kind: ServiceKind;
  readonly pid: number;
  readonly port: number;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  readonly env: Readonly<Env>;
  /** Everything written on stdout and stderr so far. */
  output(): string;
  /** The JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  readonly exited: Promise<ExitInfo>;
  alive(): boolean;
  /** Sends `signal` (default SIGKILL) and resolves when the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** VmRSS in KiB from /proc/<pid>/status (undefined once gone). */
  rssKb(): number | undefined;
}

/** VmRSS of a process in KiB, from /proc/<pid>/status. */
export function rssKb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // never leave service processes behind, whatever happens to the parent
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export interface SpawnOptions {
  /** How long to wait for `listening` and health SERVING. Default 90 s. */
  readyTimeoutMs?: number;
  /** Credentials of the readiness health checks (mutual TLS). */
  credentials?: grpc.ChannelCredentials;
  /** Do not wait for health SERVING (e.g. a process expected to fail at start). */
  noWait?: boolean;
}

/** Starts one service process; resolves once it listens and its health is SERVING. */
export async function spawnService(kind: ServiceKind, name: string, env: Env, options: SpawnOptions = {}): Promise<ServiceProcess> {
  installExitHook();
  const fullEnv: NodeJS.ProcessEnv = {
    ...process.env,
    OTEL_TRACES_EXPORTER: 'none',
    LOG_LEVEL: 'info',
    ...env,
  };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN[kind]], { cwd: ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let text = '';
  const onData = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<ExitInfo>((resolve) =>
    // 'close': after the exit AND the end of its stdout/stderr (so output() is complete)
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  let gone = false;
  void exited.then(() => (gone = true));

  const logs = (): Array<Record<string, unknown>> =>
    text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });

  const timeout = options.readyTimeoutMs ?? 90_000;
  const deadline = Date.now() + timeout;
  let address: string | undefined;
  while (!address) {
    const line = logs().find((l) => l['msg'] === 'listening');
    if (line) address = String(line['address']);
    else if (gone) throw new Error(`${name} exited before listening:\n${text.slice(-4000)}`);
    else if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not listen within ${timeout} ms:\n${text.slice(-4000)}`);
    } else await new Promise((r) => setTimeout(r, 50));
  }
  const port = Number(address.slice(address.lastIndexOf(':') + 1));

  const proc: ServiceProcess = {
    name,
    kind,
    pid: child.pid!,
    port,
    address,
    env,
    output: () => text,
    logs,
    exited,
    alive: () => !gone,
    kill: (signal: NodeJS.Signals = 'SIGKILL') => {
      if (!gone) child.kill(signal);
      return exited;
    },
    rssKb: () => (gone ? undefined : rssKb(child.pid!)),
  };
  if (!options.noWait) {
    const health = createHealthClient(address, { credentials: options.credentials });
    try {
      await Promise.race([
        waitForServing(health, '', Math.max(1_000, deadline - Date.now()), 100),
        exited.then(() => {
          throw new Error(`${name} exited before SERVING:\n${text.slice(-4000)}`);
        }),
      ]);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    } finally {
      health.close();
    }
  }
  return proc;
}

export interface LocalStackOptions {
  /** Sampler processes (all in front of the one inference sidecar). Default 2. */
  samplers?: number;
  /** Start the verifier too. Default false. */
  verifier?: boolean;
  /** Environment of every process. */
  env?: Env;
  /** Per-process environment, by process name (`certifier`, `sampler-2`, ...) or kind (`sampler`). */
  envFor?: Record<string, Env>;
  /** Directory for the signing key and the bound cache (default: a fresh temporary directory, removed by stop()). */
  dir?: string;
  credentials?: grpc.ChannelCredentials;
  readyTimeoutMs?: number;
}

export interface LocalStack {
  readonly dir: string;
  inference: ServiceProcess;
  samplers: ServiceProcess[];
  bounds: ServiceProcess;
  certifier: ServiceProcess;
  verifier?: ServiceProcess;
  all(): ServiceProcess[];
  /** Stops (SIGKILL unless `signal` says otherwise) and starts `name` again on the same port, same env plus `env`. */
  restart(name: string, env?: Env, signal?: NodeJS.Signals): Promise<ServiceProcess>;
  /** SIGTERM every process (SIGKILL after `graceMs`); removes the temporary directory. */
  stop(graceMs?: number): Promise<void>;
}

/** inference, then samplers and bounds, then certifier (and verifier); each on 127.0.0.1:0. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'glcert-stack-'));
  const spawnOpts: SpawnOptions = { credentials: options.credentials, readyTimeoutMs: options.readyTimeoutMs };
  const envOf = (kind: ServiceKind, name: string, own: Env): Env => ({
    ...options.env,
    ...own,
    ...options.envFor?.[kind],
    ...options.envFor?.[name],
  });
  const started: ServiceProcess[] = [];
  const start = async (kind: ServiceKind, name: string, own: Env): Promise<ServiceProcess> => {
    const p = await spawnService(kind, name, { [PORT_VAR[kind]]: '0', ...envOf(kind, name, own) }, spawnOpts);
    started.push(p);
    return p;
  };
  try {
    const keysDir = path.join(dir, 'keys');
    const [inference, bounds] = await Promise.all([
      start('inference', 'inference', { MODELS_DIR, INFERENCE_SHUTDOWN_GRACE_MS: '2000' }),
      start('bounds', 'bounds', { BOUNDS_CACHE_DIR: path.join(dir, 'bounds-cache'), BOUNDS_SHUTDOWN_GRACE_MS: '2000' }),
    ]);
    const samplers = await Promise.all(
      Array.from({ length: options.samplers ?? 2 }, (_, i) =>
        start('sampler', `sampler-${i + 1}`, { INFERENCE_ADDR: inference.address, SAMPLER_SHUTDOWN_GRACE_MS: '2000' }),
      ),
    );
    const [certifier, verifier] = await Promise.all([
      start('certifier', 'certifier', {
        SAMPLER_ADDRS: samplers.map((s) => s.address).join(','),
        BOUNDS_ADDR: bounds.address,
        CERTIFIER_SIGNING_KEY_FILE: path.join(keysDir, 'signing.pem'),
      }),
      options.verifier
        ? start('verifier', 'verifier', {
            BOUNDS_ADDR: bounds.address,
            SAMPLER_ADDRS: samplers.map((s) => s.address).join(','),
            VERIFIER_PUBLIC_KEYS_DIR: keysDir,
          })
        : Promise.resolve(undefined),
    ]);
    const stack: LocalStack = {
      dir,
      inference,
      samplers,
      bounds,
      certifier: certifier!,
      verifier,
      all: () => [stack.inference, ...stack.samplers, stack.bounds, stack.certifier, ...(stack.verifier ? [stack.verifier] : [])],
      restart: async (name, env = {}, signal = 'SIGKILL') => {
        const old = stack.all().find((p) => p.name === name);
        if (!old) throw new Error(`no process ${name}`);
        await old.kill(signal);
        const fresh = await spawnService(old.kind, name, { ...old.env, ...env, [PORT_VAR[old.kind]]: String(old.port) }, spawnOpts);
        started.push(fresh);
        if (name === 'inference') stack.inference = fresh;
        else if (name === 'bounds') stack.bounds = fresh;
        else if (name === 'certifier') stack.certifier = fresh;
        else if (name === 'verifier') stack.verifier = fresh;
        else stack.samplers = stack.samplers.map((s) => (s.name === name ? fresh : s));
        return fresh;
      },
      stop: async (graceMs = 5_000) => {
        await stopAll(started, graceMs);
        if (ownDir) rmSync(dir, { recursive: true, force: true });
      },
    };
    return stack;
  } catch (err) {
    await stopAll(started, 1_000);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function stopAll(processes: ServiceProcess[], graceMs: number): Promise<void> {
  await Promise.all(
    processes.map(async (p) => {
      if (!p.alive()) return;
      const timer = setTimeout(() => void p.kill('SIGKILL'), graceMs);
      await p.kill('SIGTERM');
      clearTimeout(timer);
    }),
  );
}
