// glcert up: the five services on loopback, each its own process, until Ctrl-C / SIGTERM.

import { resolve } from 'node:path';

import { UsageError, commandArgs, formatFlags } from '../args';
import type { FlagSpecs } from '../args';
import type { Command } from '../command';
import { exampleDigit } from '../dataset';
import { Prefixer } from '../log-format';
import { DEFAULT_BASE_PORT, StackError, stackProcessNames, startStack, type StackOptions } from '../stack';

const FLAGS = {
  samplers: { type: 'integer', value: 'N', description: 'sampler processes (default 1)' },
  'sidecar-per-sampler': { type: 'boolean', description: 'one inference sidecar per sampler, as in a pod (default: one shared sidecar)' },
  'base-port': { type: 'integer', value: 'P', description: `certifier P, sampler P+1, inference P+2, bounds P+3, verifier P+4, more samplers P+5... (default ${DEFAULT_BASE_PORT}; 0: free ports)` },
  models: { type: 'string', value: 'DIR', description: 'models directory of the inference sidecars (default <repo>/models)' },
  'keys-dir': { type: 'string', value: 'DIR', description: 'signing key of the certifier, public keys of the verifier (default <repo>/.glcert/keys)' },
  'bounds-cache': { type: 'string', value: 'DIR', description: 'bound cache (default <repo>/.glcert/bounds-cache)' },
  'log-level': { type: 'string', value: 'L', choices: ['debug', 'info', 'warn', 'error', 'silent'], description: 'LOG_LEVEL of the services (default info)' },
  help: { type: 'boolean', description: 'show this help' },
} as const satisfies FlagSpecs;

function help(): string {
  return [
    'usage: glcert up [--samplers N] [--base-port P] [--models DIR] [options]',
    '',
    'Starts certifier, sampler(s), inference, bounds and verifier on 127.0.0.1, each as its own',
    'process, prints their logs prefixed with the process name, waits until every health check',
    'says SERVING and prints the addresses. Ctrl-C (or SIGTERM) stops them: SIGTERM, then SIGKILL',
    'after 15 s. Other OTEL_* / LOG_LEVEL / service variables in the environment pass through.',
    '',
    formatFlags(FLAGS),
    '',
  ].join('\n');
}

export const upCommand: Command = {
  name: 'up',
  summary: 'start all services on loopback (separate processes) until Ctrl-C',
  help,
  async run(argv, io) {
    const args = commandArgs(argv, FLAGS, io, help);
    if (!args) return 0;
    const { flags } = args;
    const samplers = flags.samplers ?? 1;
    if (samplers < 1 || samplers > 64) throw new UsageError(`--samplers: must be in [1, 64], got ${samplers}`);
    const basePort = flags['base-port'] ?? DEFAULT_BASE_PORT;
    if (basePort < 0 || basePort > 65000) throw new UsageError(`--base-port: must be in [0, 65000], got ${basePort}`);

    const options: StackOptions = {
      samplers,
      inference: flags['sidecar-per-sampler'] ? 'per-sampler' : 'shared',
      basePort,
      modelsDir: flags.models !== undefined ? resolve(flags.models) : undefined,
      keysDir: flags['keys-dir'] !== undefined ? resolve(flags['keys-dir']) : undefined,
      boundsCacheDir: flags['bounds-cache'] !== undefined ? resolve(flags['bounds-cache']) : undefined,
      env: flags['log-level'] !== undefined ? { LOG_LEVEL: flags['log-level'] } : undefined,
    };
    const names = stackProcessNames(options);
    const prefixer = new Prefixer([...names, 'glcert'], io.errIsTTY === true);
    const say = (text: string): void => io.err(prefixer.line('glcert', text));
    let alive = names.length;
    let allDead: (() => void) | undefined;

    say(`starting ${names.length} processes: ${names.join(', ')}`);
    const t0 = Date.now();
    // a Ctrl-C during start-up stops what started
    let interrupted = false;
    let stopNow: (() => void) | undefined;
    const startAbort = new AbortController();
    const onSignal = (): void => {
      if (interrupted) return;
      interrupted = true;
      startAbort.abort();
      stopNow?.();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      let stack;
      try {
        stack = await startStack({
          ...options,
          signal: startAbort.signal,
          onLine: (proc, line) => io.err(prefixer.line(proc.name, line)),
          onUnexpectedExit: (proc, exit) => {
            alive--;
            say(`${proc.name} (pid ${proc.pid}) exited unexpectedly with ${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}`);
            if (alive === 0) allDead?.();
          },
        });
      } catch (e) {
        if (e instanceof StackError) {
          io.err(`glcert up: ${e.message}\n`);
          return interrupted ? 130 : 1;
        }
        throw e;
      }
      const width = Math.max(...stack.processes.map((p) => p.name.length));
      const lines = [
        `glcert stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s:`,
        ...stack.processes.map((p) => `  ${p.name.padEnd(width)}  ${p.address}  (pid ${p.pid})`),
        '',
        `certify:  npx glcert certify ${exampleDigit()} --model mnist-cnn --preset brightness --out cert.json${stack.addresses.certifier.endsWith(`:${DEFAULT_BASE_PORT}`) ? '' : ` --certifier ${stack.addresses.certifier}`}`,
        `verify:   npx glcert verify cert.json   (offline; or --verifier ${stack.addresses.verifier})`,
        `dataset:  npx glcert certify-dataset mnist-test --model mnist-cnn --preset brightness --limit 100 --report report.html${
          stack.addresses.certifier.endsWith(`:${DEFAULT_BASE_PORT}`) ? '' : ` --certifier ${stack.addresses.certifier}`
        }`,
        'Ctrl-C stops every service.',
        '',
      ];
      io.out(lines.join('\n'));
      const outcome = await new Promise<'signal' | 'dead'>((done) => {
        stopNow = () => done('signal');
        allDead = () => done('dead');
        if (interrupted) done('signal');
      });
      say(outcome === 'signal' ? 'stopping (SIGTERM to every process; SIGKILL after 15 s)' : 'every process has exited');
      await stack.stop();
      say('stopped');
      return outcome === 'signal' ? 0 : 1;
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
  },
};
