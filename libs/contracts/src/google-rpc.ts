// One namespace for the vendored google.rpc types (status, codes, error details). The three
// generated files each export the same helper names (protobufPackage, DeepPartial, ...), so
// this barrel lists the message symbols explicitly.
export { Status } from './gen/google/rpc/status';
export { Code, codeFromJSON, codeToJSON } from './gen/google/rpc/code';
export {
  BadRequest,
  BadRequest_FieldViolation,
  DebugInfo,
  ErrorInfo,
  ErrorInfo_MetadataEntry,
  Help,
  Help_Link,
  LocalizedMessage,
  PreconditionFailure,
  PreconditionFailure_Violation,
  QuotaFailure,
  QuotaFailure_Violation,
  QuotaFailure_Violation_QuotaDimensionsEntry,
  RequestInfo,
  ResourceInfo,
  RetryInfo,
} from './gen/google/rpc/error_details';
