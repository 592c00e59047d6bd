export { philox4x32_10, philoxInto, mulhi32, PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1 } from './philox';
export { GENERATOR_NAME, sampleNormals, fillNormals, uniform53, seedKey } from './generator';
export { normalCdf, normalSf, logNormalCdf, normalPdf, normalQuantile } from './normal';
export { lnGamma, lnBeta } from './gamma';
export {
  regIncBeta,
  regIncBetaComplement,
  betaCdf,
  invRegIncBeta,
  invRegIncBetaPair,
  betaQuantile,
} from './beta';
export { clopperPearsonLower, clopperPearsonUpper, minSamplesToCertify } from './clopper-pearson';
export { bonferroni, holm, familyWiseAlpha } from './multiple-testing';
export {
  SEQUENTIAL_RULE,
  SEQUENTIAL_RATIO,
  DEFAULT_FUTILITY_BETA,
  SELECTION_BLOCK,
  SELECTION_MIN,
  sequentialSchedule,
  sumInOrder,
  decideAtLook,
  canCertifyLater,
  runSequential,
  selectionDone,
  nextSelectionBlock,
  selectionStopValid,
  type Look,
  type LookDecision,
  type StopReason,
  type SequentialOutcome,
} from './sequential';
