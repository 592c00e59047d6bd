// The smoothing laws on the wire: their names (as @glcert/transforms spells them, `Law`) and the
// proto Distribution enum, one map both ways for every service and tool.
import { Distribution, type ThreatModel } from './gen/glcert/common/v1/common';

/** Wire enum of each smoothing law. */
export const LAW_DISTRIBUTION = {
  normal: Distribution.DISTRIBUTION_NORMAL,
  lognormal: Distribution.DISTRIBUTION_LOG_NORMAL,
  rayleigh: Distribution.DISTRIBUTION_RAYLEIGH,
} as const satisfies Record<string, Distribution>;

export type LawName = keyof typeof LAW_DISTRIBUTION;

const LAW_OF = new Map<number, LawName>(Object.entries(LAW_DISTRIBUTION).map(([law, d]) => [d, law as LawName]));

/** The law of a wire Distribution; undefined for UNSPECIFIED or an unknown value. */
export function lawOfDistribution(distribution: Distribution | number): LawName | undefined {
  return LAW_OF.get(distribution);
}

/**
 * The smoothing entries whose distribution is not their parameter's law: parameter `params[i]`
 * (law `laws[i]`) is smoothed by `tm.smoothing[smoothingAt[i]]`. Each names its wire path
 * `<root>.smoothing[k].distribution`.
 */
export function smoothingLawViolations(
  tm: ThreatModel,
  transform: string,
  params: readonly string[],
  laws: readonly LawName[],
  smoothingAt: readonly number[],
  root = 'threat_model',
): Array<{ field: string; description: string }> {
  const out: Array<{ field: string; description: string }> = [];
  params.forEach((name, i) => {
    const at = smoothingAt[i]!;
    const want = LAW_DISTRIBUTION[laws[i]!];
    const got = tm.smoothing[at]!.distribution;
    if (got !== want) {
      out.push({
        field: `${root}.smoothing[${at}].distribution`,
        description: `parameter '${name}' of transform '${transform}' is smoothed with ${Distribution[want]}, got ${Distribution[got] ?? got}`,
      });
    }
  });
  return out;
}
