// The command registry: add a command by writing src/commands/<name>.ts (exporting a Command)
// and listing it here. `glcert help` lists them in this order.

import type { Command } from '../command';
import { boundsCommand } from './bounds';
import { statsCommand } from './stats';

export const COMMANDS: readonly Command[] = [boundsCommand, statsCommand];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
