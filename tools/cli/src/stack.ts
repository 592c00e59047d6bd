// The glcert stack on one machine: every service as its own child process, configured through
// the environment exactly as in a pod, on loopback. The compiled CLI (tools/cli/dist, what
// `glcert up` runs) starts the compiled services (`node --enable-source-maps
// services/<name>/dist/main.js`); the TypeScript sources (tests, tsx) start the sources
// (`node --import tsx services/<name>/src/main.ts`). Used by `glcert up`, `glcert demo`, the CLI tests, and fault and
// load tests (per-process environment overrides, kill/restart one child).
//
//   const stack = await startStack({ samplers: 2, basePort: 0, keysDir: tmp });
//   stack.addresses.certifier;            // '127.0.0.1:41234'
//   await stack.kill('sampler-2');        // SIGKILL one child (expected: not reported)
//   await stack.restart('sampler-2');     // same port, same environment, waits for SERVING
//   await stack.stop();                   // SIGTERM front to back, SIGKILL after stopTimeoutMs
//
// Port layout from basePort P (default 50051, the services' own defaults): certifier P,
// sampler P+1, inference P+2, bounds P+3, verifier P+4; further samplers P+5..., further
// inference sidecars after them. basePort 0 picks free ports.
//
// Children run in their own process group (a terminal's Ctrl-C reaches only the parent, which
// stops them in order) and hold an IPC lifeline (./stack-child.ts): if the parent dies, even by
// SIGKILL, each child shuts itself down gracefully.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { checkHealth, createHealthClient, type HealthClient } from '@glcert/runtime';

export const WORKSPACE_ROOT = resolve(__dirname, '..', '..', '..');
export const DEFAULT_BASE_PORT = 50051;
export const DEFAULT_HOST = '127.0.0.1';

export type ServiceRole = 'inference' | 'sampler' | 'bounds' | 'certifier' | 'verifier';
export const SERVICE_ROLES: readonly ServiceRole[] = ['certifier', 'sampler', 'inference', 'bounds', 'verifier'];

/** Offsets from the base port of the first process of each role (the services' defaults at 50051). */
const ROLE_OFFSET: Record<ServiceRole, number> = { certifier: 0, sampler: 1, inference: 2, bounds: 3, verifier: 4 };

/** Front first: the order `stop()` takes (a certifier drains while its samplers still answer). */
const STOP_TIERS: readonly (readonly ServiceRole[])[] = [['certifier', 'verifier'], ['sampler'], ['inference', 'bounds']];

export interface StackOptions {
  /** Sampler processes (>= 1). Default 1. */
  samplers?: number;
  /** One inference sidecar for all samplers ('shared', default: cheapest on one machine) or one per sampler (as in a pod). */
  inference?: 'shared' | 'per-sampler';
  /** Default 50051; 0: free ports. */
  basePort?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** MODELS_DIR of the inference sidecars. Default: the services' default (<repo>/models). */
  modelsDir?: string;
  /** BOUNDS_CACHE_DIR. Default: the service's default (<repo>/.glcert/bounds-cache). */
  boundsCacheDir?: string;
  /**
   * Where the certifier keeps its signing key (`signing.pem`, public key `signing.pem.pub.pem`)
   * and the verifier reads `*.pub.pem`. Default: the services' default (<repo>/.glcert/keys).
   */
  keysDir?: string;
  /** Added to every child's environment (after the stack's own settings: it wins), e.g. OTEL_*, LOG_LEVEL. */
  env?: NodeJS.ProcessEnv;
  /** Per process name (`certifier`, `sampler-2`, ...) or role (`sampler`); a name's entries win over its role's. */
  processEnv?: Readonly<Record<string, NodeJS.ProcessEnv>>;
  /** Every output line of every child (stdout and stderr), as written. Default: dropped (the last lines are kept for errors). */
  onLine?: (proc: StackProcess, line: string, stream: 'stdout' | 'stderr') => void;
  /** A child exited that nobody asked to stop (crash, external kill). */
  onUnexpectedExit?: (proc: StackProcess, exit: ProcessExit) => void;
  /** How long start (and restart) waits for every health check to say SERVING. Default 180 s. */
  readyTimeoutMs?: number;
  /** SIGTERM, then SIGKILL after this long. Default 15 s. */
  stopTimeoutMs?: number;
  /** Node executable. Default process.execPath. */
  node?: string;
  /** Aborting it during start-up stops what started and rejects with a StackError. */
  signal?: AbortSignal;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StackProcess {
  /** `certifier`, `verifier`, `bounds`, `sampler` or `sampler-2`, `inference` or `inference-2`. */
  readonly name: string;
  readonly role: ServiceRole;
  readonly address: string;
  readonly port: number;
  /** Of the current child (changes on restart); undefined before the first spawn. */
  readonly pid: number | undefined;
  /** The environment the stack adds to process.env for this child. */
  readonly env: Readonly<NodeJS.ProcessEnv>;
  readonly running: boolean;
  /** The last output lines (for error messages). */
  recentLines(): string[];
}

export interface StackAddresses {
  certifier: string;
  verifier: string;
  bounds: string;
  samplers: string[];
  inference: string[];
}

export interface Stack {
  readonly addresses: StackAddresses;
  readonly processes: readonly StackProcess[];
  process(name: string): StackProcess;
  /** Sends `signal` (default SIGKILL) to one child and resolves with its exit; not reported as unexpected. */
  kill(name: string, signal?: NodeJS.Signals): Promise<ProcessExit>;
  /**
   * Starts a stopped (killed or crashed) child again on its port with its environment, plus `env`
   * (kept for later restarts; an undefined value unsets a variable); resolves once SERVING.
   */
  restart(name: string, env?: Readonly<NodeJS.ProcessEnv>): Promise<void>;
  /** Stops every child (front to back: SIGTERM, SIGKILL after stopTimeoutMs). Idempotent. */
  stop(): Promise<void>;
}

export class StackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackError';
  }
}

const RECENT_LINES = 40;

class Proc implements StackProcess {
  child: ChildProcess | undefined;
  exited: Promise<ProcessExit> = Promise.resolve({ code: null, signal: null });
  expectedExit = false;
  private readonly recent: string[] = [];

  constructor(
    readonly name: string,
    readonly role: ServiceRole,
    readonly host: string,
    readonly port: number,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  get address(): string {
    return `${this.host}:${this.port}`;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }
  remember(line: string): void {
    this.recent.push(line);
    if (this.recent.length > RECENT_LINES) this.recent.shift();
  }
  recentLines(): string[] {
    return [...this.recent];
  }
}

/** Free TCP ports on `host`, distinct (all held open until every one is known). */
export async function freePorts(count: number, host = DEFAULT_HOST): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((ok, fail) => {
          const s = createServer();
          s.once('error', fail);
          s.listen(0, host, () => ok(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** Whether something already listens on host:port (a bind attempt fails with EADDRINUSE). */
export function portInUse(port: number, host = DEFAULT_HOST): Promise<boolean> {
  return new Promise((ok) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) => ok(err.code === 'EADDRINUSE' || err.code === 'EACCES'));
    s.listen(port, host, () => s.close(() => ok(false)));
  });
}

interface Plan {
  name: string;
  role: ServiceRole;
  port: number;
  env: NodeJS.ProcessEnv;
}

function planStack(options: StackOptions, ports: (role: ServiceRole, i: number) => number): Plan[] {
  const samplers = options.samplers ?? 1;
  const perSampler = options.inference === 'per-sampler';
  const host = options.host ?? DEFAULT_HOST;
  const addr = (port: number): string => `${host}:${port}`;
  const name = (role: ServiceRole, i: number, count: number): string => (count > 1 ? `${role}-${i + 1}` : role);
  const inferenceCount = perSampler ? samplers : 1;

  const plans: Plan[] = [];
  const common = (role: ServiceRole, port: number): NodeJS.ProcessEnv => ({
    [`${role.toUpperCase()}_HOST`]: host,
    [`${role.toUpperCase()}_PORT`]: String(port),
  });
  const inferencePorts = Array.from({ length: inferenceCount }, (_, i) => ports('inference', i));
  const samplerPorts = Array.from({ length: samplers }, (_, i) => ports('sampler', i));
  const samplerAddrs = samplerPorts.map(addr).join(',');
  const boundsPort = ports('bounds', 0);

  plans.push({
    name: 'certifier',
    role: 'certifier',
    port: ports('certifier', 0),
    env: {
      ...common('certifier', ports('certifier', 0)),
      SAMPLER_ADDRS: samplerAddrs,
      BOUNDS_ADDR: addr(boundsPort),
      ...(options.keysDir ? { CERTIFIER_SIGNING_KEY_FILE: join(options.keysDir, 'signing.pem') } : {}),
    },
  });
  samplerPorts.forEach((port, i) =>
    plans.push({
      name: name('sampler', i, samplers),
      role: 'sampler',
      port,
      env: { ...common('sampler', port), INFERENCE_ADDR: addr(inferencePorts[perSampler ? i : 0]) },
    }),
  );
  inferencePorts.forEach((port, i) =>
    plans.push({
      name: name('inference', i, inferenceCount),
      role: 'inference',
      port,
      env: { ...common('inference', port), ...(options.modelsDir ? { MODELS_DIR: resolve(options.modelsDir) } : {}) },
    }),
  );
  plans.push({
    name: 'bounds',
    role: 'bounds',
    port: boundsPort,
    env: { ...common('bounds', boundsPort), ...(options.boundsCacheDir ? { BOUNDS_CACHE_DIR: resolve(options.boundsCacheDir) } : {}) },
  });
  plans.push({
    name: 'verifier',
    role: 'verifier',
    port: ports('verifier', 0),
    env: {
      ...common('verifier', ports('verifier', 0)),
      BOUNDS_ADDR: addr(boundsPort),
      SAMPLER_ADDRS: samplerAddrs,
      ...(options.keysDir ? { VERIFIER_PUBLIC_KEYS_DIR: options.keysDir } : {}),
    },
  });
  for (const p of plans) {
    Object.assign(p.env, options.env, options.processEnv?.[p.role], p.name !== p.role ? options.processEnv?.[p.name] : undefined);
  }
  return plans;
}

/** The process names a stack of these options has (`certifier`, `sampler-1`, ...). */
export function stackProcessNames(options: StackOptions = {}): string[] {
  return planStack(options, () => 0).map((p) => p.name);
}

/** What startStack would run with a fixed base port: each process' name, role, port and added environment. */
export function planStackProcesses(options: StackOptions = {}): Array<{ name: string; role: ServiceRole; port: number; env: NodeJS.ProcessEnv }> {
  return planStack(options, fixedPorts(options.basePort || DEFAULT_BASE_PORT, options.samplers ?? 1));
}

/** The fixed port layout from a base port (see the file comment). */
function fixedPorts(base: number, samplers: number): (role: ServiceRole, i: number) => number {
  return (role, i) => {
    if (i === 0) return base + ROLE_OFFSET[role];
    if (role === 'sampler') return base + 4 + i; // P+5 ...
    if (role === 'inference') return base + 4 + (samplers - 1) + i;
    throw new Error(`no port for ${role} #${i}`);
  };
}

function describeExit(e: ProcessExit): string {
  return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
}

/** Polls Health/Check '' until SERVING; rejects early when `proc` exits, or after `timeoutMs`. */
async function waitServing(proc: Proc, health: HealthClient, deadline: number, signal?: AbortSignal): Promise<void> {
  let exited: ProcessExit | undefined;
  void proc.exited.then((e) => (exited = e));
  let last = 'no answer';
  for (;;) {
    if (signal?.aborted) throw new StackError('start-up interrupted');
    if (exited) {
      const tail = proc.recentLines().slice(-10).join('\n    ');
      throw new StackError(`${proc.name} exited during start-up (${describeExit(exited)})${tail ? `; last output:\n    ${tail}` : ''}`);
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new StackError(`${proc.name} (${proc.address}) not SERVING in time (last: ${last})`);
    try {
      const status = await checkHealth(health, '', Math.max(50, Math.min(1_000, left)));
      if (status === 'SERVING') return;
      last = status;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Starts the stack; resolves once every process reports SERVING. On failure, stops what it started and rejects. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const samplers = options.samplers ?? 1;
  if (!Number.isSafeInteger(samplers) || samplers < 1) throw new StackError(`samplers must be an integer >= 1, got ${samplers}`);
  const host = options.host ?? DEFAULT_HOST;
  const basePort = options.basePort ?? DEFAULT_BASE_PORT;
  const inferenceCount = options.inference === 'per-sampler' ? samplers : 1;
  const total = samplers + inferenceCount + 3;
  if (options.modelsDir && !existsSync(options.modelsDir)) throw new StackError(`models directory ${options.modelsDir} does not exist`);

  let portOf: (role: ServiceRole, i: number) => number;
  if (basePort === 0) {
    const free = await freePorts(total, host);
    const table = new Map<string, number>();
    let k = 0;
    for (const role of SERVICE_ROLES) {
      const count = role === 'sampler' ? samplers : role === 'inference' ? inferenceCount : 1;
      for (let i = 0; i < count; i++) table.set(`${role}#${i}`, free[k++]);
    }
    portOf = (role, i) => table.get(`${role}#${i}`)!;
  } else {
    if (!Number.isSafeInteger(basePort) || basePort < 1 || basePort + total > 65535) throw new StackError(`base port must be in [1, ${65535 - total}], got ${basePort}`);
    portOf = fixedPorts(basePort, samplers);
  }
  const plans = planStack(options, portOf);
  if (basePort !== 0) {
    const busy: string[] = [];
    for (const p of plans) if (await portInUse(p.port, host)) busy.push(`${p.name} ${host}:${p.port}`);
    if (busy.length > 0) {
      throw new StackError(`port${busy.length > 1 ? 's' : ''} already in use: ${busy.join(', ')} (is a stack already running? try --base-port)`);
    }
  }

  const node = options.node ?? process.execPath;
  const compiled = extname(__filename) === '.js';
  const childPreload = pathToFileURL(join(__dirname, `stack-child${extname(__filename)}`)).href;
  const stopTimeoutMs = options.stopTimeoutMs ?? 15_000;
  const procs = plans.map((p) => new Proc(p.name, p.role, host, p.port, p.env));
  const healths = new Map<string, HealthClient>();
  let stopping: Promise<void> | undefined;

  const spawnProc = (proc: Proc): void => {
    const main = join(WORKSPACE_ROOT, 'services', proc.role, compiled ? 'dist/main.js' : 'src/main.ts');
    const loader = compiled ? ['--enable-source-maps'] : ['--import', 'tsx'];
    const child = spawn(node, [...loader, '--import', childPreload, main], {
      cwd: WORKSPACE_ROOT,
      env: { ...process.env, ...proc.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
    });
    proc.child = child;
    proc.expectedExit = false;
    proc.exited = new Promise((done) => {
      child.once('exit', (code, signal) => done({ code, signal }));
      child.once('error', (err) => {
        proc.remember(`spawn failed: ${err.message}`);
        done({ code: null, signal: null });
      });
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      let buf = '';
      child[stream]!.setEncoding('utf8').on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          proc.remember(line);
          options.onLine?.(proc, line, stream);
        }
      });
      child[stream]!.on('end', () => {
        if (buf !== '') {
          proc.remember(buf);
          options.onLine?.(proc, buf, stream);
          buf = '';
        }
      });
    }
    void proc.exited.then((e) => {
      if (!proc.expectedExit && !stopping) options.onUnexpectedExit?.(proc, e);
    });
  };

  const terminate = async (proc: Proc, signal: NodeJS.Signals): Promise<ProcessExit> => {
    proc.expectedExit = true;
    if (!proc.running) return proc.exited;
    proc.child!.kill(signal);
    if (signal === 'SIGKILL') return proc.exited;
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((r) => {
      timer = setTimeout(() => {
        if (proc.running) {
          proc.remember(`did not stop within ${stopTimeoutMs} ms: SIGKILL`);
          proc.child!.kill('SIGKILL');
        }
        r();
      }, stopTimeoutMs);
    });
    const exit = await Promise.race([proc.exited, killed.then(async () => proc.exited)]);
    clearTimeout(timer);
    return exit;
  };

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const tier of STOP_TIERS) {
        await Promise.all(procs.filter((p) => tier.includes(p.role)).map((p) => terminate(p, 'SIGTERM')));
      }
      for (const h of healths.values()) h.close();
    })();
    return stopping;
  };

  const find = (name: string): Proc => {
    const p = procs.find((x) => x.name === name);
    if (!p) throw new StackError(`no process '${name}' (have ${procs.map((x) => x.name).join(', ')})`);
    return p;
  };
  const healthOf = (proc: Proc): HealthClient => {
    let h = healths.get(proc.name);
    if (!h) {
      h = createHealthClient(proc.address, { defaultDeadlineMs: 5_000 });
      healths.set(proc.name, h);
    }
    return h;
  };
  const readyTimeoutMs = options.readyTimeoutMs ?? 180_000;

  try {
    for (const p of procs) spawnProc(p);
    const deadline = Date.now() + readyTimeoutMs;
    // dependencies first so an error names the root cause (a certifier waits for its samplers)
    for (const tier of [['inference', 'bounds'], ['sampler'], ['certifier', 'verifier']]) {
      await Promise.all(procs.filter((p) => tier.includes(p.role)).map((p) => waitServing(p, healthOf(p), deadline, options.signal)));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const addresses: StackAddresses = {
    certifier: find('certifier').address,
    verifier: find('verifier').address,
    bounds: find('bounds').address,
    samplers: procs.filter((p) => p.role === 'sampler').map((p) => p.address),
    inference: procs.filter((p) => p.role === 'inference').map((p) => p.address),
  };

  return {
    addresses,
    processes: procs,
    process: find,
    kill: (name, signal = 'SIGKILL') => terminate(find(name), signal),
    async restart(name, env = {}) {
      const proc = find(name);
      if (stopping) throw new StackError('the stack is stopping');
      if (proc.running) throw new StackError(`${name} is running (kill it first)`);
      Object.assign(proc.env, env);
      spawnProc(proc);
      await waitServing(proc, healthOf(proc), Date.now() + readyTimeoutMs);
    },
    stop,
  };
}
