// Standard normal distribution in float64.
// CDF: W. J. Cody, "Rational Chebyshev approximations for the error function" (Math. Comp. 1969),
// in the form of R's pnorm_both (Cody's coefficients for Phi directly): relative error ~1e-16 in
// both tails, since each tail is computed directly and never as 1 - (the other).
// Quantile: M. J. Wichura, Algorithm AS 241 PPND16 (Appl. Statist. 1988), ~1e-16 relative.

const SQRT_32 = 5.656854249492380195206754896838;
const INV_SQRT_2PI = 0.398942280401432677939946059934;
const LN_SQRT_2PI = 0.918938533204672741780329736406;

// Cody: |x| <= 0.67448975 (Phi(x) - 1/2 = x * P(x^2)/Q(x^2)).
const A = [2.2352520354606839287, 161.02823106855587881, 1067.6894854603709582, 18154.981253343561249, 0.065682337918207449113];
const B = [47.20258190468824187, 976.09855173777669322, 10260.932208618978205, 45507.789335026729956];
// Cody: 0.674 < |x| <= sqrt(32) (tail = exp(-x^2/2) * P(|x|)/Q(|x|)).
const C = [
  0.39894151208813466764, 8.8831497943883759412, 93.506656132177855979, 597.27027639480026226, 2494.5375852903726711,
  6848.1904505362823326, 11602.651437647350124, 9842.7148383839780218, 1.0765576773720192317e-8,
];
const D = [
  22.266688044328115691, 235.38790178262499861, 1519.377599407554805, 6485.558298266760755, 18615.571640885098091,
  34900.952721145977266, 38912.003286093271411, 19685.429676859990727,
];
// Cody: |x| > sqrt(32) (asymptotic: tail = exp(-x^2/2)/|x| * (1/sqrt(2 pi) - P(1/x^2)/Q(1/x^2)/x^2)).
const P = [0.21589853405795699, 0.1274011611602473639, 0.022235277870649807, 0.001421619193227893466, 2.9112874951168792e-5, 0.02307344176494017303];
const Q = [1.28426009614491121, 0.468238212480865118, 0.0659881378689285515, 0.00378239633202758244, 7.29751555083966205e-5];

/**
 * For y = |x| > 0.674: the ratio r with smaller tail Phi(-y) = exp(-y^2/2) * r.
 * Splitting x^2 = xsq^2 + del, with xsq = x truncated to 1/16, keeps exp(-x^2/2) accurate: x*x
 * alone would carry a rounding error of relative size x^2 * 2^-53 into the exponent.
 */
function tailRatio(y: number): number {
  if (y <= SQRT_32) {
    let num = C[8] * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + C[i]) * y;
      den = (den + D[i]) * y;
    }
    return (num + C[7]) / (den + D[7]);
  }
  const xsq = 1 / (y * y);
  let num = P[5] * xsq;
  let den = xsq;
  for (let i = 0; i < 4; i++) {
    num = (num + P[i]) * xsq;
    den = (den + Q[i]) * xsq;
  }
  const t = (xsq * (num + P[4])) / (den + Q[4]);
  return (INV_SQRT_2PI - t) / y;
}

/** -y^2/2 split into two parts whose sum is accurate (see tailRatio). */
function halfSquare(y: number): [number, number] {
  const xsq = Math.trunc(y * 16) / 16;
  const del = (y - xsq) * (y + xsq);
  return [-xsq * xsq * 0.5, -del * 0.5];
}

function centralPart(x: number): number {
  const xsq = x * x;
  let num = A[4] * xsq;
  let den = xsq;
  for (let i = 0; i < 3; i++) {
    num = (num + A[i]) * xsq;
    den = (den + B[i]) * xsq;
  }
  return (x * (num + A[3])) / (den + B[3]);
}

/** Standard normal CDF Phi(x), relative error ~1e-16 in both tails (underflows below x ~ -38.5). */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const y = Math.abs(x);
  if (y <= 0.67448975) return 0.5 + centralPart(x);
  if (y > 40) return x > 0 ? 1 : 0;
  const [h1, h2] = halfSquare(y);
  const tail = Math.exp(h1) * Math.exp(h2) * tailRatio(y);
  return x > 0 ? 1 - tail : tail;
}

/** Upper tail 1 - Phi(x), accurate where it is small. */
export function normalSf(x: number): number {
  return normalCdf(-x);
}

/** ln Phi(x), finite and accurate far into the lower tail (no underflow for x > -1e154). */
export function logNormalCdf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const y = Math.abs(x);
  if (y <= 0.67448975) return Math.log(0.5 + centralPart(x));
  if (x > 0) return Math.log1p(-normalCdf(-x));
  if (y > 1e154) return -Infinity;
  const [h1, h2] = halfSquare(y);
  return h1 + h2 + Math.log(tailRatio(y));
}

/** Standard normal density. */
export function normalPdf(x: number): number {
  return Math.exp(-0.5 * x * x - LN_SQRT_2PI);
}

// AS 241 PPND16 coefficients.
const QA = [
  3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125, 45921.953931549871457,
  67265.770927008700853, 33430.575583588128105, 2509.0809287301226727,
];
const QB = [
  1, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077, 21213.794301586595867, 39307.89580009271061,
  28729.085735721942674, 5226.495278852854561,
];
const QC = [
  1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504, 1.27045825245236838258,
  0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4,
];
const QD = [
  1, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455, 0.14810397642748007459,
  0.0151986665636164571966, 5.475938084995344946e-4, 1.05075007164441684324e-9,
];
const QE = [
  6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358, 0.29656057182850489123,
  0.026532189526576123093, 0.0012426609473880784386, 2.71155556874348757815e-5, 2.01033439929228813265e-7,
];
const QF = [
  1, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525, 7.868691311456132591e-4,
  1.8463183175100546818e-5, 1.4215117583164458887e-7, 2.04426310338993978564e-15,
];

function horner(c: readonly number[], x: number): number {
  let v = c[c.length - 1];
  for (let i = c.length - 2; i >= 0; i--) v = v * x + c[i];
  return v;
}

/** Standard normal quantile Phi^-1(p) (AS 241); -Infinity at 0, Infinity at 1. */
export function normalQuantile(p: number): number {
  if (Number.isNaN(p)) return NaN;
  if (p < 0 || p > 1) throw new RangeError(`p must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * horner(QA, r)) / horner(QB, r);
  }
  // The smaller tail probability: p itself below 1/2, so tiny p keep full relative precision.
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let v: number;
  if (r <= 5) {
    r -= 1.6;
    v = horner(QC, r) / horner(QD, r);
  } else {
    r -= 5;
    v = horner(QE, r) / horner(QF, r);
  }
  return q < 0 ? -v : v;
}
