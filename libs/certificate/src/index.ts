export {
  CERTIFICATE_PAYLOAD_TYPE,
  CERTIFICATE_VERSION,
  LEGACY_CERTIFICATE_VERSION,
  SUPPORTED_CERTIFICATE_VERSIONS,
  canonicalBytes,
  certificatePayload,
  stableStringify,
} from './canonical';
export {
  KeyRing,
  SigningKey,
  describePublicKey,
  generateSigningKey,
  keyIdOf,
  loadOrCreateSigningKey,
  parsePublicKey,
  type PublicKeyInfo,
} from './keys';
export {
  certificateContent,
  openCertificate,
  pae,
  parseCertificatePayload,
  signCertificate,
  verifyCertificateSignature,
  type OpenedCertificate,
  type SignatureCheck,
} from './sign';
export { argmaxLowest, decideOutcome, thresholdFloorOf, THRESHOLD_FLOOR_TOLERANCE, type ThresholdFloor } from './verdict';
export {
  DEFAULT_ALPHA,
  DEFAULT_N,
  DEFAULT_N0,
  PRESET_NAMES,
  presetMessages,
  presetThreatModel,
  threatModelMessage,
} from './presets';
export { checkCertificate, type CertificateCheck, type CheckOptions } from './check';
export {
  SEQUENTIAL_SOUNDNESS_STREAM,
  formatSequentialTable,
  lookThresholds,
  simulateSequentialSoundness,
  type LookThresholds,
  type SequentialCell,
  type SequentialSoundnessOptions,
} from './sequential-soundness';
export { checkSequentialRecord, sequentialReplayPoints, sequentialReplayProblems, type SequentialCheck } from './sequential-check';
