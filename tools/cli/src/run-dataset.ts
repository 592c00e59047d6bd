// Certifies a dataset through StreamingCertify: one config message, then the items, with at most
// `concurrency` items sent and not yet answered, and write() backpressure honoured (false ->
// wait for 'drain'). Each answer is appended to the results file at once, so an interrupted run
// resumes: ids already answered for good are skipped (transient failures such as UNAVAILABLE
// are tried again; the later line wins).

import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import type * as grpc from '@grpc/grpc-js';
import { Sampling, ThreatModel, type CertificationServiceClient, type certifyV1 } from '@glcert/contracts';
import type { ThreatModelSpec } from '@glcert/transforms';

import { threatModelMessage } from './client';
import { type Dataset, type DatasetItem, type Shard, inShard } from './dataset';
import { Progress } from './progress';
import type { ReportStrip } from './report';
import {
  type ResultRecord,
  type RunSettings,
  codeName,
  describeSettings,
  isFinal,
  readResults,
  recordFromResponse,
  sameSettings,
  settingsOf,
} from './results';

export interface DatasetRunOptions {
  client: CertificationServiceClient;
  dataset: Dataset;
  model: string;
  threatModel: ThreatModelSpec;
  /** Sampling of every item (n0 and n are maxima under 'sequential'); absent: 'sequential'. */
  sampling?: 'fixed' | 'sequential';
  n0: number;
  n: number;
  alpha: number;
  /** Base seed of the stream (item seeds derive from it and the id); absent: the certifier draws one. */
  seed?: bigint;
  shard?: Shard;
  /** Results file (JSON Lines), appended to. */
  out: string;
  /** Items sent and not yet answered, at most. */
  concurrency: number;
  progress?: { write: (text: string) => void; tty: boolean; label?: string };
  signal?: AbortSignal;
}

export interface DatasetRunResult {
  /** Every record of the selection (this shard, after --limit), earlier runs included. */
  records: ResultRecord[];
  /** Answered in this run. */
  answered: number;
  /** Skipped: already in the results file. */
  skipped: number;
  /** Items of the selection still without a final answer (stream failed or interrupted). */
  missing: number;
  wallSeconds: number;
  /** The stream's final status when it was not OK. */
  streamError?: string;
  interrupted: boolean;
  /** An image of the selection, for the report's strip. */
  strip?: ReportStrip;
  /** Notes of the first answer (threshold unreachable, bound notes, ...). */
  notes: string[];
}

export class ResultsMismatchError extends Error {}

export async function runDataset(o: DatasetRunOptions): Promise<DatasetRunResult> {
  const t0 = Date.now();
  mkdirSync(dirname(o.out), { recursive: true });
  const previous = readResults(o.out);
  if (previous.partialTail) appendFileSync(o.out, '\n');
  const finalIds = new Set(previous.records.filter(isFinal).map((r) => r.id));

  // refuse to mix runs with different settings in one file
  const tm = threatModelMessage(o.threatModel);
  const prevSettings = previous.records.map(settingsOf).find((s) => s !== undefined);
  if (prevSettings) {
    const now: RunSettings = {
      model: o.model,
      threatModel: JSON.stringify(ThreatModel.toJSON({ ...tm, note: '' })),
      n0: String(o.n0),
      n: String(o.n),
      alpha: o.alpha,
      sampling: o.sampling ?? 'sequential',
    };
    if (!sameSettings(now, prevSettings)) {
      throw new ResultsMismatchError(
        `${o.out} holds results made with other settings (${describeSettings(prevSettings)}; now ${describeSettings(now)}): use another --out, or delete it`,
      );
    }
  }
  const byId = new Map(previous.records.map((r) => [r.id, r]));

  // the selection: ids (in order) of this shard; counted before sending so the bar knows its total
  const selection = o.dataset.entries.filter((e) => inShard(e.index, o.shard)).map((e) => e.id);
  const pendingIds = new Set(selection.filter((id) => !finalIds.has(id)));
  const skipped = selection.length - pendingIds.size;
  let firstItem: DatasetItem | undefined;

  const notes: string[] = [];
  let answered = 0;
  let streamError: string | undefined;
  let interrupted = false;

  if (pendingIds.size > 0) {
    const progress = o.progress ? new Progress({ total: pendingIds.size, ...o.progress }) : undefined;
    const outstanding = new Map<string, { index: number; label: number; sent: number }>();
    let ended = false;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const waitFor = (cond: () => boolean): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (cond()) resolve();
          else wake = check;
        };
        check();
      });

    const call = o.client.streamingCertify({ deadline: Infinity });
    const finished = new Promise<grpc.StatusObject>((resolve) => {
      call.on('data', (res: certifyV1.StreamingCertifyResponse) => {
        const meta = outstanding.get(res.id);
        outstanding.delete(res.id);
        const rec = recordFromResponse(res, meta?.index ?? -1, meta?.label ?? res.label ?? null, meta ? (Date.now() - meta.sent) / 1000 : 0);
        if (!(interrupted && rec.status.code === 'CANCELLED')) {
          appendFileSync(o.out, `${JSON.stringify(rec)}\n`);
          byId.delete(rec.id);
          byId.set(rec.id, rec);
          answered++;
          if (notes.length === 0 && res.notes.length > 0) notes.push(...res.notes);
          progress?.tick(rec.status.code !== 'OK' ? 'errors' : rec.outcome === 'CERTIFIED' ? 'certified' : 'abstained');
        }
        notify();
      });
      call.on('error', () => undefined); // the status event carries it
      call.on('status', (s: grpc.StatusObject) => {
        ended = true;
        notify();
        resolve(s);
      });
    });
    const onAbort = (): void => {
      interrupted = true;
      call.cancel();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) onAbort();

    const write = async (msg: certifyV1.StreamingCertifyRequest): Promise<void> => {
      if (!call.write(msg)) {
        let drained = false;
        const onDrain = (): void => {
          drained = true;
          notify();
        };
        call.once('drain', onDrain);
        await waitFor(() => drained || ended);
        call.removeListener('drain', onDrain);
      }
    };

    await write({
      request: {
        $case: 'config',
        config: {
          model: o.model,
          threatModel: tm,
          n0: BigInt(o.n0),
          n: BigInt(o.n),
          alpha: o.alpha,
          baseSeed: o.seed,
          sampling: o.sampling === 'fixed' ? Sampling.SAMPLING_FIXED : Sampling.SAMPLING_SEQUENTIAL,
        },
      },
    });
    try {
      // items are read one at a time, only when there is room for them
      for await (const item of o.dataset.items()) {
        if (!inShard(item.index, o.shard)) continue;
        firstItem ??= item;
        if (!pendingIds.has(item.id)) continue;
        await waitFor(() => ended || outstanding.size < o.concurrency);
        if (ended) break;
        outstanding.set(item.id, { index: item.index, label: item.label, sent: Date.now() });
        await write({ request: { $case: 'item', item: { id: item.id, input: item.input, label: item.label } } });
      }
    } catch (err) {
      // the dataset could not be read further (e.g. a listed file is missing): what was answered is kept
      call.cancel();
      await finished;
      progress?.finish();
      throw err;
    }
    if (!ended) call.end();
    const status = await finished;
    o.signal?.removeEventListener('abort', onAbort);
    progress?.finish();
    if (status.code !== 0) streamError = interrupted ? 'interrupted' : `stream ended with ${codeName(status.code)}: ${status.details}`;
  }

  const records = selection.map((id) => byId.get(id)).filter((r): r is ResultRecord => r !== undefined);
  const missing = selection.length - records.filter(isFinal).length;
  return {
    records,
    answered,
    skipped,
    missing,
    wallSeconds: (Date.now() - t0) / 1000,
    streamError,
    interrupted,
    strip: await (firstItem ?? (await firstOf(o.dataset, o.shard)))?.decode(),
    notes,
  };
}

async function firstOf(dataset: Dataset, shard: Shard | undefined): Promise<DatasetItem | undefined> {
  for await (const item of dataset.items()) if (inShard(item.index, shard)) return item;
  return undefined;
}
