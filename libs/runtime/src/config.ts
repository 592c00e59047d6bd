import { createLogger, REDACTED, type Logger } from '@glcert/telemetry';

/**
 * Typed configuration from environment variables, validated once at start (fail fast).
 *
 * ```ts
 * const config = loadConfig({
 *   ...serverConfigSchema('certifier', { port: 50051 }),
 *   samplers: env.addrs('SAMPLER_ADDR', { default: ['127.0.0.1:50052'] }),
 *   maxN: env.int('CERTIFIER_MAX_N', { default: 1_000_000, min: 1 }),
 *   signingKey: env.string('CERTIFIER_SIGNING_KEY', { secret: true }),
 * });
 * ```
 * Every problem is reported (not just the first), each naming its variable; then the process
 * exits with status 78 (EX_CONFIG). Secret values are never logged nor echoed in errors.
 */

export interface Field<T> {
  readonly env: string;
  readonly secret: boolean;
  /** Parses the raw value; throws an Error whose message says what is wrong. */
  parse(raw: string | undefined): T;
}

export type Schema = Record<string, Field<any>>;
export type ConfigOf<S extends Schema> = { -readonly [K in keyof S]: S[K] extends Field<infer T> ? T : never };

export interface ConfigProblem {
  env: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.env}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

interface Common<T> {
  default?: T;
  /** Missing and no default: `undefined` instead of an error. */
  optional?: boolean;
  /** Never logged nor echoed in error messages. */
  secret?: boolean;
}
interface NumberOpts extends Common<number> {
  min?: number;
  max?: number;
}
interface StringOpts extends Common<string> {
  oneOf?: readonly string[];
  pattern?: RegExp;
}
interface ListOpts extends Common<string[]> {
  /** Default 0; 1 makes an empty list an error. */
  minLength?: number;
}

type Mandatory<O> = O & ({ default: unknown } | { optional?: false });
type Optional<O> = O & { optional: true; default?: undefined };

function field<T>(env: string, opts: Common<T>, convert: (raw: string, show: string) => T): Field<T> {
  const secret = opts.secret ?? false;
  return {
    env,
    secret,
    parse(raw) {
      const value = raw?.trim() ?? '';
      if (value === '') {
        if (opts.default !== undefined) return opts.default;
        if (opts.optional) return undefined as T;
        throw new Error('is required but not set');
      }
      return convert(value, secret ? REDACTED : JSON.stringify(value));
    },
  };
}

function checkRange(n: number, opts: NumberOpts): void {
  if (opts.min !== undefined && n < opts.min) throw new Error(`must be >= ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) throw new Error(`must be <= ${opts.max}, got ${n}`);
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;

/** Checks `host:port`, `[v6]:port`, `dns:///host:port` (headless services); returns it trimmed. */
export function parseAddr(raw: string): string {
  const rest = raw.replace(/^dns:(\/\/[^/]*\/)?/, '');
  const m = /^(.+):(\d{1,5})$/.exec(rest);
  if (!m || !HOST.test(m[1]!)) throw new Error(`must be host:port (or dns:///host:port), got ${JSON.stringify(raw)}`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new Error(`port must be 1..65535, got ${port}`);
  return raw;
}

function int(name: string, opts?: Mandatory<NumberOpts>): Field<number>;
function int(name: string, opts: Optional<NumberOpts>): Field<number | undefined>;
function int(name: string, opts: NumberOpts = {}): Field<number | undefined> {
  return field(name, opts, (raw, show) => {
    if (!/^[-+]?\d+$/.test(raw)) throw new Error(`must be an integer, got ${show}`);
    const n = Number(raw);
    if (!Number.isSafeInteger(n)) throw new Error(`is out of range, got ${show}`);
    checkRange(n, opts);
    return n;
  });
}

function float(name: string, opts?: Mandatory<NumberOpts>): Field<number>;
function float(name: string, opts: Optional<NumberOpts>): Field<number | undefined>;
function float(name: string, opts: NumberOpts = {}): Field<number | undefined> {
  return field(name, opts, (raw, show) => {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new Error(`must be a finite number, got ${show}`);
    checkRange(n, opts);
    return n;
  });
}

function string(name: string, opts?: Mandatory<StringOpts>): Field<string>;
function string(name: string, opts: Optional<StringOpts>): Field<string | undefined>;
function string(name: string, opts: StringOpts = {}): Field<string | undefined> {
  return field(name, opts, (raw, show) => {
    if (opts.oneOf && !opts.oneOf.includes(raw)) throw new Error(`must be one of ${opts.oneOf.join(', ')}, got ${show}`);
    if (opts.pattern && !opts.pattern.test(raw)) throw new Error(`must match ${opts.pattern}, got ${show}`);
    return raw;
  });
}

function bool(name: string, opts: Common<boolean> = {}): Field<boolean> {
  return field(name, { default: false, ...opts }, (raw, show) => {
    const v = raw.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    throw new Error(`must be true or false, got ${show}`);
  });
}

function splitList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Comma-separated list. */
function list(name: string, opts: ListOpts = {}): Field<string[]> {
  return field(name, { default: opts.optional ? [] : undefined, ...opts }, (raw) => {
    const items = splitList(raw);
    if (items.length < (opts.minLength ?? 0)) throw new Error(`needs at least ${opts.minLength} item(s)`);
    return items;
  });
}

/** One `host:port` (or `dns:///host:port`). */
function addr(name: string, opts?: Mandatory<StringOpts>): Field<string>;
function addr(name: string, opts: Optional<StringOpts>): Field<string | undefined>;
function addr(name: string, opts: Common<string> = {}): Field<string | undefined> {
  return field(name, opts, (raw) => parseAddr(raw));
}

/** One or more comma-separated `host:port`; several replicas are balanced round-robin by createClient. */
function addrs(name: string, opts: ListOpts = {}): Field<string[]> {
  return field(name, opts, (raw) => {
    const items = splitList(raw);
    if (items.length < Math.max(1, opts.minLength ?? 1)) throw new Error(`needs at least ${Math.max(1, opts.minLength ?? 1)} address(es)`);
    return items.map(parseAddr);
  });
}

/** Field builders: `env.int('X_PORT', { default: 0, min: 0, max: 65535 })`. */
export const env = { int, float, string, bool, list, addr, addrs };

/** Parses every field; throws one ConfigError listing every problem. */
export function readConfig<S extends Schema>(schema: S, source: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const [key, f] of Object.entries(schema)) {
    try {
      out[key] = f.parse(source[f.env]);
    } catch (err) {
      problems.push({ env: f.env, message: err instanceof Error ? err.message : String(err) });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

/** `{ CERTIFIER_PORT: 50051, CERTIFIER_SIGNING_KEY: '[REDACTED]' }`: the loaded config, safe to log. */
export function describeConfig<S extends Schema>(schema: S, config: ConfigOf<S>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(schema)) {
    const v = (config as Record<string, unknown>)[key];
    out[f.env] = f.secret && v !== undefined ? REDACTED : v;
  }
  return out;
}

export const EXIT_CONFIG = 78;

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Called with 78 on invalid config. Default: process.exit. */
  exit?: (code: number) => void;
  log?: Logger;
}

/**
 * `readConfig`, and on failure: logs the problems (each naming its variable), calls
 * `exit(78)`, and throws the ConfigError should `exit` return (as an injected one does).
 */
export function loadConfig<S extends Schema>(schema: S, options: LoadConfigOptions = {}): ConfigOf<S> {
  const log = options.log ?? createLogger('config');
  try {
    const config = readConfig(schema, options.env ?? process.env);
    log.info('config loaded', { config: describeConfig(schema, config) });
    return config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log.error(err.message, { problems: err.problems });
    (options.exit ?? ((code: number) => process.exit(code)))(EXIT_CONFIG);
    throw err;
  }
}

/** `certifier` -> `CERTIFIER`, `bounds-service` -> `BOUNDS_SERVICE`. */
export function envPrefix(service: string): string {
  return service.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '').toUpperCase();
}

export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

export interface ServerConfigDefaults {
  port?: number;
  host?: string;
  maxReceiveMessageBytes?: number;
  maxSendMessageBytes?: number;
  shutdownGraceMs?: number;
}

/**
 * The server part of a service's config: `<SERVICE>_HOST` (default 127.0.0.1; 0.0.0.0 in
 * a pod), `<SERVICE>_PORT` (0 = any free port, for tests), `<SERVICE>_MAX_RECEIVE_MESSAGE_BYTES`,
 * `<SERVICE>_MAX_SEND_MESSAGE_BYTES` (16 MiB), `<SERVICE>_SHUTDOWN_GRACE_MS` (10 s; keep it
 * below Kubernetes' terminationGracePeriodSeconds).
 */
export function serverConfigSchema(service: string, defaults: ServerConfigDefaults = {}) {
  const p = envPrefix(service);
  const bytes = { min: 1024, max: 2 ** 31 - 1 };
  return {
    host: env.string(`${p}_HOST`, { default: defaults.host ?? '127.0.0.1' }),
    port: env.int(`${p}_PORT`, { default: defaults.port, min: 0, max: 65535 }),
    maxReceiveMessageBytes: env.int(`${p}_MAX_RECEIVE_MESSAGE_BYTES`, {
      default: defaults.maxReceiveMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      ...bytes,
    }),
    maxSendMessageBytes: env.int(`${p}_MAX_SEND_MESSAGE_BYTES`, {
      default: defaults.maxSendMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      ...bytes,
    }),
    shutdownGraceMs: env.int(`${p}_SHUTDOWN_GRACE_MS`, {
      default: defaults.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
      min: 0,
    }),
  };
}

export type ServerConfig = ConfigOf<ReturnType<typeof serverConfigSchema>>;
