// docs/bad-input.md is generated from the same table the bad-input test runs: fail when stale.
import { readFileSync } from 'node:fs';
import { BAD_INPUT_DOC, renderBadInputTable } from './bad-input-table';

describe('docs/bad-input.md', () => {
  it('is up to date with bad-input-cases.ts (regenerate: node --import tsx tools/reliability/src/bad-input-table.ts --write)', () => {
    expect(readFileSync(BAD_INPUT_DOC, 'utf8')).toBe(renderBadInputTable());
  });
});
