// glcert: dispatch to src/commands/<name>.ts. Exit status 0 ok, 1 failure, 2 usage error (one
// line on stderr naming the offending argument).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { UsageError } from './args';
import type { Io } from './command';
import { COMMANDS, findCommand } from './commands';

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length), 4);
  return [
    'usage: glcert <command> [options]',
    '',
    'Certificates of robustness against semantic transformations (General Lipschitz randomized smoothing).',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  show help for glcert or a command (glcert help <command>)`,
    '',
    'exit status: 0 ok, 1 failure, 2 usage error',
    '',
  ].join('\n');
}

/** Runs one glcert invocation; returns the exit status. Never throws. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  const prefix = name && findCommand(name) ? `glcert ${name}` : 'glcert';
  try {
    if (name === undefined) {
      io.err(mainHelp());
      return 2;
    }
    if (name === 'help' || name === '--help' || name === '-h') {
      if (rest.length === 0) {
        io.out(mainHelp());
        return 0;
      }
      const cmd = findCommand(rest[0]);
      if (!cmd) throw new UsageError(`unknown command '${rest[0]}' (see glcert help)`);
      io.out(cmd.help());
      return 0;
    }
    if (name === '--version') {
      io.out(`${version()}\n`);
      return 0;
    }
    const cmd = findCommand(name);
    if (!cmd) throw new UsageError(`unknown command '${name}' (see glcert help)`);
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`${prefix}: ${e.message.replace(/\s*\n\s*/g, ' ')}\n`);
      return e.exitCode;
    }
    const err = e as Error;
    io.err(`${prefix}: error: ${err?.message ?? String(e)}\n`);
    if (process.env.GLCERT_DEBUG && err?.stack) io.err(`${err.stack}\n`);
    return 1;
  }
}
