// The real services as separate processes on loopback, through the CLI's `startStack` (every
// service `node --import tsx services/<s>/src/main.ts` with its own environment): one inference
// sidecar shared by N samplers, the bound service, the certifier and the verifier. This module
// adds what the reliability tests need on top: every process's output kept (JSON log lines) per
// incarnation, its RSS from /proc, and restart with extra environment (key rotation, a shorter
// shutdown grace).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the whole-system tests run the stack the CLI runs (startStack)
import { startStack, type ProcessExit, type ServiceRole, type Stack, type StackProcess } from '@glcert/cli';
import { MODELS_DIR } from './fixtures';

export type Env = Record<string, string | undefined>;
export type { ProcessExit };

export interface ServiceProcess {
  /** `sampler-1` (or `sampler` when there is one), `certifier`, ... */
  readonly name: string;
  readonly kind: ServiceRole;
  /** Of this incarnation. */
  readonly pid: number;
  readonly port: number;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  /** Everything this incarnation wrote on stdout and stderr so far. */
  output(): string;
  /** Its JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  /** Resolves once this incarnation is gone (after kill()). */
  readonly exited: Promise<ProcessExit>;
  alive(): boolean;
  /** Sends `signal` (default SIGKILL); resolves once the process is gone and its output read. */
  kill(signal?: NodeJS.Signals): Promise<ProcessExit>;
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

export interface LocalStackOptions {
  /** Sampler processes (all in front of the one inference sidecar). Default 2. */
  samplers?: number;
  /** Environment of every process. */
  env?: Env;
  /** Per-process environment, by process name (`certifier`, `sampler-2`, ...) or role (`sampler`). */
  envFor?: Record<string, Env>;
  /** Directory for the signing key (`keys/`) and the bound cache (default: a fresh temporary directory, removed by stop()). */
  dir?: string;
  readyTimeoutMs?: number;
}

export interface LocalStack {
  readonly dir: string;
  readonly stack: Stack;
  readonly inference: ServiceProcess;
  readonly samplers: ServiceProcess[];
  readonly bounds: ServiceProcess;
  readonly certifier: ServiceProcess;
  readonly verifier: ServiceProcess;
  all(): ServiceProcess[];
  /** Stops `name` (SIGKILL unless `signal` says otherwise) and starts it again on its port, its environment plus `env`. */
  restart(name: string, env?: Env, signal?: NodeJS.Signals): Promise<ServiceProcess>;
  /** Stops every process (front to back, SIGTERM then SIGKILL); removes the temporary directory. */
  stop(): Promise<void>;
}

/** Quiet defaults: no trace export, info logs, short shutdown grace periods behind the certifier. */
const ROLE_DEFAULTS: Record<string, Env> = {
  inference: { MODELS_DIR, INFERENCE_SHUTDOWN_GRACE_MS: '2000' },
  sampler: { SAMPLER_SHUTDOWN_GRACE_MS: '2000' },
  bounds: { BOUNDS_SHUTDOWN_GRACE_MS: '2000' },
};

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'glcert-stack-'));
  const lines = new Map<string, string[]>();
  const processEnv: Record<string, Env> = {};
  for (const key of new Set([...Object.keys(ROLE_DEFAULTS), ...Object.keys(options.envFor ?? {})])) {
    processEnv[key] = { ...ROLE_DEFAULTS[key], ...options.envFor?.[key] };
  }
  let stack: Stack;
  try {
    stack = await startStack({
      samplers: options.samplers ?? 2,
      basePort: 0,
      keysDir: path.join(dir, 'keys'),
      boundsCacheDir: path.join(dir, 'bounds-cache'),
      env: { OTEL_TRACES_EXPORTER: 'none', LOG_LEVEL: 'info', ...options.env },
      processEnv,
      onLine: (proc, line) => {
        let list = lines.get(proc.name);
        if (!list) lines.set(proc.name, (list = []));
        list.push(line);
      },
      readyTimeoutMs: options.readyTimeoutMs ?? 120_000,
      stopTimeoutMs: 5_000,
    });
  } catch (err) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const current = new Map<string, ServiceProcess>();
  /** The process's current child as a ServiceProcess: its output from line `from` on. */
  const incarnation = (proc: StackProcess, from: number): ServiceProcess => {
    const pid = proc.pid!;
    const own = (): string[] => (lines.get(proc.name) ?? []).slice(from);
    let exit: Promise<ProcessExit> | undefined;
    let resolveExit!: (e: ProcessExit) => void;
    const exited = new Promise<ProcessExit>((r) => (resolveExit = r));
    const sp: ServiceProcess = {
      name: proc.name,
      kind: proc.role,
      pid,
      port: proc.port,
      address: proc.address,
      output: () => own().join('\n'),
      logs: () =>
        own().flatMap((l) => {
          if (!l.startsWith('{')) return [];
          try {
            return [JSON.parse(l) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
      exited,
      alive: () => current.get(proc.name) === sp && proc.running,
      kill: (signal: NodeJS.Signals = 'SIGKILL') =>
        (exit ??= (async () => {
          const e = await stack.kill(proc.name, signal);
          // 'exit' can come before the end of stdout/stderr: wait until the output is quiet
          let n = -1;
          for (let i = 0; i < 20 && n !== own().length; i++) {
            n = own().length;
            await new Promise((r) => setTimeout(r, 50));
          }
          resolveExit(e);
          return e;
        })()),
      rssKb: () => (sp.alive() ? rssKb(pid) : undefined),
    };
    current.set(proc.name, sp);
    return sp;
  };
  for (const p of stack.processes) incarnation(p, 0);
  const get = (name: string): ServiceProcess => current.get(name)!;
  const samplerNames = stack.processes.filter((p) => p.role === 'sampler').map((p) => p.name);

  return {
    dir,
    stack,
    get inference() {
      return get('inference');
    },
    get samplers() {
      return samplerNames.map(get);
    },
    get bounds() {
      return get('bounds');
    },
    get certifier() {
      return get('certifier');
    },
    get verifier() {
      return get('verifier');
    },
    all: () => stack.processes.map((p) => get(p.name)),
    restart: async (name, env = {}, signal = 'SIGKILL') => {
      await get(name).kill(signal);
      const from = lines.get(name)?.length ?? 0;
      await stack.restart(name, env);
      return incarnation(stack.process(name), from);
    },
    stop: async () => {
      await stack.stop();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
