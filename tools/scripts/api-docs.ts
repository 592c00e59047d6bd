// Renders docs/api.md from proto/ (through the descriptors codegen embeds in @glcert/contracts);
// `npm run docs:api` writes it.
//   node --import tsx tools/scripts/api-docs.ts           # print it
//   node --import tsx tools/scripts/api-docs.ts --write   # rewrite docs/api.md
// Run `npm run codegen` first after a proto change; libs/contracts/src/api-docs.spec.ts fails
// when docs/api.md is stale.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderApiDocs } from '../../libs/contracts/src/api-docs';

const md = renderApiDocs();
if (process.argv.includes('--write')) {
  const file = join(__dirname, '..', '..', 'docs', 'api.md');
  writeFileSync(file, md);
  process.stderr.write(`wrote docs/api.md (${md.length} characters)\n`);
} else {
  process.stdout.write(md);
}
