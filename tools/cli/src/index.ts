export { run, mainHelp } from './cli';
export { parseArgs, formatFlags, UsageError } from './args';
export type { FlagSpec, FlagSpecs, FlagType, ParsedArgs } from './args';
export { parseBox, parseSigma, threatModelFromFlags, fieldToFlag, THREAT_FLAGS } from './threat-args';
export type { Command, Io } from './command';
export { COMMANDS, findCommand } from './commands';
export { startStack, stackProcessNames, planStackProcesses, freePorts, portInUse, StackError, WORKSPACE_ROOT, DEFAULT_BASE_PORT, DEFAULT_HOST, SERVICE_ROLES } from './stack';
export type { Stack, StackOptions, StackProcess, StackAddresses, ProcessExit, ServiceRole } from './stack';
