// npm run load [-- --seconds 60 --clients 4 --n 500 --n0 64 ...]
//
// Starts the whole stack as separate processes on loopback, runs several concurrent
// StreamingCertify clients for a fixed time on the data/mnist-test PNGs (brightness threat
// model, closed-form bound, modest n), samples the RSS of every service process from
// /proc/<pid>/status, stops everything, and prints one JSON report: images/s, p50/p99 latency
// per image, errors (must be 0), RSS over time per process with a plateau check (the last
// third's max at most 10 % above the middle third's). Exit status 1 when there were errors or
// a process's memory kept growing. Bounded: --seconds of sending, at most --max-items items,
// then each stream half-closes and its in-flight items are awaited (at most --drain-seconds).
import * as grpc from '@grpc/grpc-js';
import { CertificationServiceClient, Sampling, type certifyV1 } from '@glcert/contracts';
import { createClient, deadlineIn } from '@glcert/runtime';
import { goodConfig, item } from './bad-input-cases';
import { answerOfRpcStatus, codeName } from './calls';
import { digits, png } from './fixtures';
import { startLocalStack, type ServiceProcess } from './processes';

export interface LoadOptions {
  seconds: number;
  clients: number;
  /** Items in flight per stream (the certifier's window is CERTIFIER_STREAM_CONCURRENCY). */
  window: number;
  n: number;
  n0: number;
  samplers: number;
  maxItems: number;
  sampleMs: number;
  drainSeconds: number;
}

export const DEFAULTS: LoadOptions = {
  seconds: 60,
  clients: 4,
  window: 4,
  n: 500,
  n0: 64,
  samplers: 2,
  maxItems: 50_000,
  sampleMs: 1_000,
  drainSeconds: 60,
};

const FLAGS: Record<string, keyof LoadOptions> = {
  '--seconds': 'seconds',
  '--clients': 'clients',
  '--window': 'window',
  '--n': 'n',
  '--n0': 'n0',
  '--samplers': 'samplers',
  '--max-items': 'maxItems',
  '--sample-ms': 'sampleMs',
  '--drain-seconds': 'drainSeconds',
};

export function parseArgs(argv: readonly string[]): LoadOptions {
  const options = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const key = FLAGS[flag];
    if (!key) throw new Error(`unknown argument ${arg} (known: ${Object.keys(FLAGS).join(', ')})`);
    const raw = inline ?? argv[++i];
    const value = Number(raw);
    if (raw === undefined || !Number.isFinite(value) || value <= 0) throw new Error(`${flag} needs a positive number, got ${raw}`);
    options[key] = value;
  }
  return options;
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface RssSample {
  /** Seconds since the load started. */
  t: number;
  kb: number;
}

export interface Plateau {
  middleMaxKb: number;
  lastMaxKb: number;
  /** lastMax <= middleMax * (1 + tolerance). */
  ok: boolean;
}

/** Splits the samples into thirds of the run by time; the last third's max must not exceed the middle third's by more than `tolerance`. */
export function plateau(samples: readonly RssSample[], seconds: number, tolerance = 0.1): Plateau {
  const third = seconds / 3;
  const max = (xs: RssSample[]): number => (xs.length === 0 ? NaN : Math.max(...xs.map((s) => s.kb)));
  const middleMaxKb = max(samples.filter((s) => s.t >= third && s.t < 2 * third));
  const lastMaxKb = max(samples.filter((s) => s.t >= 2 * third));
  return { middleMaxKb, lastMaxKb, ok: Number.isFinite(middleMaxKb) && Number.isFinite(lastMaxKb) && lastMaxKb <= middleMaxKb * (1 + tolerance) };
}

interface ClientResult {
  sent: number;
  ok: number;
  failed: Array<{ id: string; code: string; message: string }>;
  latenciesMs: number[];
  unanswered: number;
  streamStatus: string;
  lastResponseAt: number;
}

function runClient(
  client: CertificationServiceClient,
  index: number,
  images: ReadonlyArray<{ id: string; image: Buffer; label: number }>,
  options: LoadOptions,
  endAt: number,
  budget: { left: number },
): Promise<ClientResult> {
  return new Promise((resolve) => {
    const result: ClientResult = { sent: 0, ok: 0, failed: [], latenciesMs: [], unanswered: 0, streamStatus: 'OK', lastResponseAt: 0 };
    const sentAt = new Map<string, number>();
    const call = client.streamingCertify({ deadline: deadlineIn((options.seconds + options.drainSeconds) * 1_000) });
    let ended = false;
    let next = index; // the clients walk the images from different places
    let seq = 0;

    const pump = (): void => {
      while (!ended && sentAt.size < options.window && Date.now() < endAt && budget.left > 0) {
        const img = images[next % images.length]!;
        next += 1;
        budget.left--;
        const id = `c${index}-${seq++}-${img.id}`;
        sentAt.set(id, Date.now());
        result.sent++;
        call.write(item(id, { $case: 'image', image: img.image }, { label: img.label }));
      }
      if (!ended && (Date.now() >= endAt || budget.left <= 0)) {
        ended = true;
        call.end();
      }
    };
    const endTimer = setTimeout(pump, Math.max(0, endAt - Date.now()));

    call.on('data', (r: certifyV1.StreamingCertifyResponse) => {
      const now = Date.now();
      const t = sentAt.get(r.id);
      if (t !== undefined) {
        sentAt.delete(r.id);
        result.latenciesMs.push(now - t);
      }
      result.lastResponseAt = now;
      const a = answerOfRpcStatus(r.status);
      if (a.code === 'OK') result.ok++;
      else result.failed.push({ id: r.id, code: a.code, message: a.message });
      pump();
    });
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => {
      clearTimeout(endTimer);
      result.streamStatus = s.code === grpc.status.OK ? 'OK' : `${codeName(s.code)}: ${s.details}`;
      result.unanswered = sentAt.size;
      resolve(result);
    });
    // FIXED sampling: every image costs n0 + n samples, the load the figures are measured at
    call.write(goodConfig({ n0: BigInt(options.n0), n: BigInt(options.n), baseSeed: BigInt(1000 + index), sampling: Sampling.SAMPLING_FIXED }));
    pump();
  });
}

export async function runLoad(options: LoadOptions, progress: (line: string) => void = () => undefined) {
  const images = digits().map((d) => ({ id: d.file.replace(/\.png$/, ''), image: png(d.file), label: d.label }));
  progress(`starting the stack (inference, ${options.samplers} samplers, bounds, certifier) ...`);
  const stack = await startLocalStack({
    samplers: options.samplers,
    envFor: {
      certifier: {
        CERTIFIER_STREAM_CONCURRENCY: String(options.window),
        CERTIFIER_MAX_INFLIGHT: String(Math.max(16, options.clients * options.window)),
        CERTIFIER_CHUNK_SIZE: '256',
      },
    },
  });
  const processes: ServiceProcess[] = stack.all();
  const rss = new Map<string, RssSample[]>(processes.map((p) => [p.name, []]));
  let t0 = Date.now();
  const sample = (): void => {
    const t = (Date.now() - t0) / 1_000;
    for (const p of processes) {
      const kb = p.rssKb();
      if (kb !== undefined) rss.get(p.name)!.push({ t, kb });
    }
  };
  const client = createClient(CertificationServiceClient, stack.certifier.address, { defaultDeadlineMs: (options.seconds + options.drainSeconds) * 1_000 });
  let results: ClientResult[];
  try {
    // warm-up: one item through the whole path (bound cached, model warm), outside the measurement
    await runClient(client, 999, images.slice(0, 1), { ...options, window: 1 }, Date.now() + 1, { left: 1 });
    progress(`running ${options.clients} StreamingCertify clients for ${options.seconds} s (n0 ${options.n0}, n ${options.n}, window ${options.window}) ...`);
    t0 = Date.now();
    sample();
    const sampler = setInterval(sample, options.sampleMs);
    const ticker = setInterval(() => progress(`  ${Math.round((Date.now() - t0) / 1_000)} s`), 10_000);
    const endAt = t0 + options.seconds * 1_000;
    const budget = { left: options.maxItems };
    try {
      results = await Promise.all(Array.from({ length: options.clients }, (_, i) => runClient(client, i, images, options, endAt, budget)));
    } finally {
      clearInterval(sampler);
      clearInterval(ticker);
      sample();
    }
  } finally {
    client.close();
    progress('stopping the stack ...');
    await stack.stop();
  }

  const end = Math.max(...results.map((r) => r.lastResponseAt), t0 + 1);
  const elapsed = (end - t0) / 1_000;
  const latencies = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const ok = results.reduce((a, r) => a + r.ok, 0);
  const failed = results.flatMap((r) => r.failed);
  const unanswered = results.reduce((a, r) => a + r.unanswered, 0);
  const streamErrors = results.map((r) => r.streamStatus).filter((s) => s !== 'OK');
  const memory = Object.fromEntries(
    processes.map((p) => {
      const samples = rss.get(p.name)!;
      const kbs = samples.map((s) => s.kb);
      const every = Math.max(1, Math.round(5_000 / options.sampleMs));
      return [
        p.name,
        {
          pid: p.pid,
          startMb: mb(kbs[0]),
          maxMb: mb(Math.max(...kbs)),
          endMb: mb(kbs[kbs.length - 1]),
          plateau: (({ middleMaxKb, lastMaxKb, ok: plateauOk }) => ({ middleMaxMb: mb(middleMaxKb), lastMaxMb: mb(lastMaxKb), ok: plateauOk }))(
            plateau(samples, elapsed),
          ),
          // every ~5 s: [seconds, MB]
          overTime: samples.filter((_, i) => i % every === 0 || i === samples.length - 1).map((s) => [round(s.t, 1), mb(s.kb)]),
        },
      ];
    }),
  );
  const errors = failed.length + unanswered + streamErrors.length;
  const report = {
    options,
    images: { distinct: images.length, sent: results.reduce((a, r) => a + r.sent, 0), certifiedOrAbstained: ok },
    elapsedSeconds: round(elapsed, 2),
    imagesPerSecond: round(ok / elapsed, 2),
    samplesPerSecond: round((ok * (options.n + options.n0)) / elapsed, 0),
    latencyMs: { p50: quantile(latencies, 0.5), p90: quantile(latencies, 0.9), p99: quantile(latencies, 0.99), max: latencies[latencies.length - 1] ?? NaN },
    errors,
    errorDetails: { inBand: failed.slice(0, 20), unanswered, streams: streamErrors },
    memory,
    plateauOk: Object.values(memory).every((m) => m.plateau.ok),
  };
  return report;
}

const mb = (kb: number | undefined): number => (kb === undefined ? NaN : round(kb / 1024, 1));
const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

if (require.main === module) {
  let options: LoadOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\nusage: npm run load -- [--seconds 60] [--clients 4] [--window 4] [--n 500] [--n0 64] [--samplers 2] [--max-items 50000] [--sample-ms 1000]\n`);
    process.exit(2);
  }
  runLoad(options, (line) => process.stderr.write(`${line}\n`)).then(
    (report) => {
      // pretty, with the [seconds, MB] pairs kept on one line
      const json = JSON.stringify(report, null, 2).replace(/\[\s+(-?[\d.]+),\s+(-?[\d.]+)\s+\]/g, '[$1, $2]');
      process.stdout.write(`${json}\n`);
      process.exit(report.errors === 0 && report.plateauOk ? 0 : 1);
    },
    (err: unknown) => {
      process.stderr.write(`load run failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
