// The command registry: add a command by writing src/commands/<name>.ts (exporting a Command)
// and listing it here. `glcert help` lists them in this order.

import type { Command } from '../command';
import { boundsCommand } from './bounds';
import { certifyCommand } from './certify';
import { certifyDatasetCommand } from './certify-dataset';
import { demoCommand } from './demo';
import { mergeResultsCommand } from './merge-results';
import { statsCommand } from './stats';
import { upCommand } from './up';
import { verifyCommand } from './verify';

export const COMMANDS: readonly Command[] = [
  upCommand,
  certifyCommand,
  certifyDatasetCommand,
  mergeResultsCommand,
  verifyCommand,
  demoCommand,
  boundsCommand,
  statsCommand,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
