// The closed-form thresholds of ALGORITHM.md section 5, written here from the formulas (not
// imported from @glcert/bounds, whose solver is what the tests check): no certificate may carry
// a threshold below them, whatever the numbers in the request.
//   additive Gaussian (b, t, bt; c, ct in ln k): h* = Phi(max over the box of ||D^-1 delta||)
//   gamma (g, Rayleigh):                          h* = 1 - 2^-Kmax, Kmax = max(g^2, g^-2) over the box
import { Outcome, type Certificate, type ThreatModel } from '@glcert/contracts';
import { normalCdf } from '@glcert/stats';

const IDENTITY: Record<string, number> = { b: 0, tx: 0, ty: 0, k: 1 };
const ADDITIVE = new Set(['b', 't', 'bt', 'c', 'ct']);

/** The closed-form threshold of a (valid) threat model, or undefined where none exists (cb, gc, cbt, r). */
export function closedForm(tm: ThreatModel): number | undefined {
  const range = (name: string): [number, number] | undefined => {
    const r = tm.box.find((x) => x.name === name);
    return r && [r.min, r.max];
  };
  const sigma = (name: string): number | undefined => tm.smoothing.find((x) => x.name === name)?.sigma;

  if (tm.transform === 'g') {
    const [a, b] = range('g') ?? [NaN, NaN];
    // the max of g^2 and g^-2 over [a, b] is at an end
    const kMax = Math.max(a * a, 1 / (a * a), b * b, 1 / (b * b));
    return 1 - Math.pow(2, -kMax);
  }
  if (!ADDITIVE.has(tm.transform)) return undefined;
  const params = tm.transform === 'b' ? ['b'] : tm.transform === 't' ? ['tx', 'ty'] : tm.transform === 'bt' ? ['b', 'tx', 'ty'] : tm.transform === 'c' ? ['k'] : ['k', 'tx', 'ty'];
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

/** Why a certificate is false (CERTIFIED with a threshold or pA bound below the closed form), or undefined. */
export function falseCertificate(cert: Certificate | undefined): string | undefined {
  if (!cert || cert.outcome !== Outcome.OUTCOME_CERTIFIED || !cert.threatModel) return undefined;
  const cf = closedForm(cert.threatModel);
  if (cf === undefined) return undefined;
  // 1e-9: rounding of the same formula evaluated another way, nothing more
  if (!(cert.threshold >= cf - 1e-9)) return `CERTIFIED with threshold ${cert.threshold} below the closed form ${cf}`;
  if (!(cert.paLower > cf - 1e-9)) return `CERTIFIED with pa_lower ${cert.paLower} not above the closed form ${cf}`;
  return undefined;
}
