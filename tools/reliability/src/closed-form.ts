// The exact thresholds where they are known in closed form, written here from the formulas (not
// imported from @glcert/bounds, whose solver is what the tests check): no certificate may carry
// a threshold below them, whatever the numbers in the request.
//   additive Gaussian (b, t, bt; c, ct in ln k): h* = Phi(max over the box of ||D^-1 delta||),
//     ALGORITHM.md section 5, tight (Cohen et al.).
//   gamma (g, Rayleigh): g' = g R with R^2 = 2 s^2 E, E ~ Exp(1), so an attack g scales E by g^2
//     and the likelihood ratio (1/g^2) e^(E (1 - 1/g^2)) is monotone in E. Neyman-Pearson: the
//     worst set of mass pA is {E <= t} for g > 1 and {E >= t} for g < 1, which keeps more than
//     1/2 iff pA > 1 - 2^(-g^2) (g >= 1), pA > 2^(-g^2) (g < 1); h* is the larger at the two ends.
//     (ALGORITHM.md's 1 - 2^-Kmax, Kmax = max(g^2, g^-2), agrees above 1 and is looser below.)
//   cb, cbt with b = 0 in the box: a bound for the box is one for its sub-box b = 0, where the
//     brightness noise is independent of the rest ((k e, b e + s_b z) at b = 0 is (k e, s_b z))
//     and the smoothing is additive Gaussian in (ln k[, tx, ty]): at least Phi of that norm.
import { Outcome, type Certificate, type ThreatModel } from '@glcert/contracts';
import { normalCdf } from '@glcert/stats';

const IDENTITY: Record<string, number> = { b: 0, tx: 0, ty: 0, k: 1 };
const ADDITIVE: Record<string, string[]> = { b: ['b'], t: ['tx', 'ty'], bt: ['b', 'tx', 'ty'], c: ['k'], ct: ['k', 'tx', 'ty'] };
/** cb, cbt: the parameters of the sub-box b = 0. */
const AT_B_ZERO: Record<string, string[]> = { cb: ['k'], cbt: ['k', 'tx', 'ty'] };

/** The smallest threshold a sound bound may give for a (valid) threat model, or undefined where none is known here (gc, r; cb, cbt without b = 0). */
export function thresholdFloor(tm: ThreatModel): number | undefined {
  const range = (name: string): [number, number] | undefined => {
    const r = tm.box.find((x) => x.name === name);
    return r && [r.min, r.max];
  };
  const sigma = (name: string): number | undefined => tm.smoothing.find((x) => x.name === name)?.sigma;

  if (tm.transform === 'g') {
    const [a, b] = range('g') ?? [NaN, NaN];
    // increasing in g above 1, decreasing below: the max is at an end
    const at = (g: number): number => (g >= 1 ? 1 - Math.pow(2, -g * g) : Math.pow(2, -g * g));
    return Math.max(at(a), at(b));
  }
  let params = ADDITIVE[tm.transform];
  if (!params && AT_B_ZERO[tm.transform]) {
    const [lo, hi] = range('b') ?? [NaN, NaN];
    if (lo <= 0 && hi >= 0) params = AT_B_ZERO[tm.transform];
  }
  if (!params) return undefined;
  // ||D^-1 delta|| as max_i |m_i / s_i| * sqrt(sum (r_i / r_max)^2): no overflow or underflow of the squares
  const ratios = params.map((p) => {
    const [lo, hi] = range(p) ?? [NaN, NaN];
    const s = sigma(p) ?? NaN;
    const [a, b] = p === 'tx' || p === 'ty' ? [Math.ceil(lo), Math.floor(hi)] : [lo, hi];
    const m = p === 'k' ? Math.max(Math.abs(Math.log(a)), Math.abs(Math.log(b))) : Math.max(Math.abs(a - IDENTITY[p]!), Math.abs(b - IDENTITY[p]!));
    return m / s;
  });
  const top = Math.max(...ratios);
  if (!(top > 0)) return top === 0 ? 0.5 : NaN;
  if (!Number.isFinite(top)) return 1;
  const norm = top * Math.sqrt(ratios.reduce((acc, r) => acc + (r / top) * (r / top), 0));
  return normalCdf(norm);
}

/** Why a certificate is false (CERTIFIED with a threshold or pA bound below the floor), or undefined. */
export function falseCertificate(cert: Certificate | undefined): string | undefined {
  if (!cert || cert.outcome !== Outcome.OUTCOME_CERTIFIED || !cert.threatModel) return undefined;
  const cf = thresholdFloor(cert.threatModel);
  if (cf === undefined) return undefined;
  // 1e-9: rounding of the same formula evaluated another way, nothing more
  if (!(cert.threshold >= cf - 1e-9)) return `CERTIFIED with threshold ${cert.threshold} below the floor ${cf}`;
  if (!(cert.paLower > cf - 1e-9)) return `CERTIFIED with pa_lower ${cert.paLower} not above the floor ${cf}`;
  return undefined;
}
