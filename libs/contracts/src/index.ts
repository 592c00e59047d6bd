// Public entry of @glcert/contracts: ts-proto output generated from proto/ (see buf.gen.yaml)
// plus small hand-written helpers. Each proto package is a namespace, so equal names in
// different packages never clash; service definitions, clients and the most used messages
// are also exported directly.
export * as commonV1 from './gen/glcert/common/v1/common';
export * as inferenceV1 from './gen/glcert/inference/v1/inference';
export * as samplingV1 from './gen/glcert/sampling/v1/sampling';
export * as boundsV1 from './gen/glcert/bounds/v1/bounds';
export * as certifyV1 from './gen/glcert/certify/v1/certify';
export * as verifyV1 from './gen/glcert/verify/v1/verify';
export * as googleRpc from './google-rpc';
export * as googleProtobuf from './google-protobuf';

// Services: definitions for server.addService, client constructors, handler interfaces.
export {
  InferenceServiceClient,
  InferenceServiceService,
  type InferenceServiceServer,
} from './gen/glcert/inference/v1/inference';
export {
  SamplingServiceClient,
  SamplingServiceService,
  type SamplingServiceServer,
} from './gen/glcert/sampling/v1/sampling';
export { BoundServiceClient, BoundServiceService, type BoundServiceServer } from './gen/glcert/bounds/v1/bounds';
export {
  CertificationServiceClient,
  CertificationServiceService,
  type CertificationServiceServer,
} from './gen/glcert/certify/v1/certify';
export {
  VerificationServiceClient,
  VerificationServiceService,
  type VerificationServiceServer,
} from './gen/glcert/verify/v1/verify';

// Shared messages and enums used across services.
export {
  Bound,
  BoundMethod,
  BoundSettings,
  DataType,
  Distribution,
  ParameterRange,
  SmoothingParameter,
  Tensor,
  ThreatModel,
  ThresholdMethod,
} from './gen/glcert/common/v1/common';
export { Certificate, DsseEnvelope, DsseSignature, Outcome, PublicKey, Sampling, SequentialRecord } from './gen/glcert/certify/v1/certify';
export { Status as RpcStatus } from './gen/google/rpc/status';

// Helpers.
export * from './tensor';
export * from './laws';
export * from './any';
export { fileDescriptorProtos } from './descriptors';
