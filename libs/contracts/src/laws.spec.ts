import { Distribution } from './gen/glcert/common/v1/common';
import { LAW_DISTRIBUTION, lawOfDistribution, smoothingLawViolations } from './laws';

describe('smoothing laws on the wire', () => {
  it('map each law to its Distribution and back', () => {
    expect(LAW_DISTRIBUTION).toEqual({
      normal: Distribution.DISTRIBUTION_NORMAL,
      lognormal: Distribution.DISTRIBUTION_LOG_NORMAL,
      rayleigh: Distribution.DISTRIBUTION_RAYLEIGH,
    });
    for (const [law, d] of Object.entries(LAW_DISTRIBUTION)) expect(lawOfDistribution(d)).toBe(law);
  });

  it('have no law for UNSPECIFIED or values outside the enum', () => {
    expect(lawOfDistribution(Distribution.DISTRIBUTION_UNSPECIFIED)).toBeUndefined();
    expect(lawOfDistribution(99)).toBeUndefined();
    expect(lawOfDistribution(-1)).toBeUndefined();
    expect(lawOfDistribution(Distribution.UNRECOGNIZED)).toBeUndefined();
  });
});

describe('smoothingLawViolations', () => {
  // contrast+brightness: k (lognormal) then b (normal); the request lists b first
  const tm = {
    transform: 'cb',
    box: [],
    smoothing: [
      { name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 },
      { name: 'k', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 },
    ],
    note: '',
  };

  it('names each entry smoothed with another law than its parameter\'s, at its place in the request', () => {
    expect(smoothingLawViolations(tm, 'cb', ['k', 'b'], ['lognormal', 'normal'], [1, 0], 'config.threat_model')).toEqual([
      {
        field: 'config.threat_model.smoothing[1].distribution',
        description: "parameter 'k' of transform 'cb' is smoothed with DISTRIBUTION_LOG_NORMAL, got DISTRIBUTION_NORMAL",
      },
    ]);
  });

  it('finds nothing when every law matches, and names an unknown value by its number', () => {
    const ok = { ...tm, smoothing: [tm.smoothing[0]!, { ...tm.smoothing[1]!, distribution: Distribution.DISTRIBUTION_LOG_NORMAL }] };
    expect(smoothingLawViolations(ok, 'cb', ['k', 'b'], ['lognormal', 'normal'], [1, 0])).toEqual([]);
    const odd = { ...tm, smoothing: [{ ...tm.smoothing[0]!, distribution: 42 }] };
    expect(smoothingLawViolations(odd, 'b', ['b'], ['normal'], [0])[0]).toEqual({
      field: 'threat_model.smoothing[0].distribution',
      description: "parameter 'b' of transform 'b' is smoothed with DISTRIBUTION_NORMAL, got 42",
    });
  });
});
