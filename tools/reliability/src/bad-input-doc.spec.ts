// docs/bad-input.md and README.md's bad-input section are generated from the same table the
// bad-input test runs: fail when either is stale.
import { readFileSync } from 'node:fs';
import { BAD_INPUT_DOC, README, renderBadInputTable, renderReadmeSection, spliceReadme } from './bad-input-table';

const REGENERATE = '(regenerate: node --import tsx tools/reliability/src/bad-input-table.ts --write)';

describe('bad-input documentation', () => {
  it(`docs/bad-input.md is up to date with bad-input-cases.ts ${REGENERATE}`, () => {
    expect(readFileSync(BAD_INPUT_DOC, 'utf8')).toBe(renderBadInputTable());
  });

  it(`README.md holds the same table between its bad-input markers ${REGENERATE}`, () => {
    const readme = readFileSync(README, 'utf8');
    expect(spliceReadme(readme)).toBe(readme);
    expect(readme).toContain(renderReadmeSection());
  });
});
