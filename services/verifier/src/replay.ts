// AuditCertificate's replay of the samples a certificate used: stream 0 over [0, n0) and stream 1
// over [0, n). A sequential certificate (ALGORITHM.md section 9) is replayed in segments cut at
// every selection block and every look up to its own, the same samples, so that the rule's
// earlier decisions are checked too: it must not have stopped before where the certificate says.
import type { Certificate } from '@glcert/contracts';
import { sequentialReplayPoints, sequentialReplayProblems } from '@glcert/certificate';

/** Class counts of samples [from, to) of `stream` under the certificate's seed and model. */
export type CountSpan = (stream: number, from: number, to: number) => Promise<bigint[]>;

export interface Replay {
  selection: bigint[];
  estimation: bigint[];
  /** Reasons the recorded path disagrees with the replay (sequential certificates; none for fixed ones). */
  pathProblems(predictedClass: number): string[];
}

export async function replaySamples(cert: Certificate, count: CountSpan): Promise<Replay> {
  const points = sequentialReplayPoints(cert) ?? { selectionEnds: [Number(cert.n0)], estimationEnds: [Number(cert.n)] };
  const cumulative = async (stream: number, ends: readonly number[]): Promise<bigint[][]> => {
    const out: bigint[][] = [];
    let acc: bigint[] = [];
    let from = 0;
    for (const end of ends) {
      const part = await count(stream, from, end);
      acc = Array.from({ length: Math.max(acc.length, part.length) }, (_, i) => (acc[i] ?? 0n) + (part[i] ?? 0n));
      out.push(acc);
      from = end;
    }
    return out;
  };
  const selection = await cumulative(0, points.selectionEnds);
  const estimation = await cumulative(1, points.estimationEnds);
  const asNumbers = (xs: bigint[][]): number[][] => xs.map((x) => x.map(Number));
  return {
    selection: selection[selection.length - 1] ?? [],
    estimation: estimation[estimation.length - 1] ?? [],
    pathProblems: (predictedClass) => (cert.sequential ? sequentialReplayProblems(cert, asNumbers(selection), asNumbers(estimation), predictedClass) : []),
  };
}
