import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_DOCS_COMMAND, renderApiDocs, undocumentedRequestFields } from './api-docs';

const API_MD = join(__dirname, '..', '..', '..', 'docs', 'api.md');

describe('docs/api.md (generated from proto/)', () => {
  const rendered = renderApiDocs();

  it(`is up to date with proto/ (regenerate: npm run codegen && ${API_DOCS_COMMAND})`, () => {
    expect(readFileSync(API_MD, 'utf8')).toBe(rendered);
  });

  it('every request field says Required, Optional or Output only (with its default and domain in the text)', () => {
    expect(undocumentedRequestFields()).toEqual([]);
  });

  it('documents the defaults, the preset field and ListPresets, and every link has its heading', () => {
    expect(rendered).toMatch(/\| `n0` \| 7 \| int64 \| Optional \(0: default 200\)/);
    expect(rendered).toMatch(/\| `alpha` \| 9 \| double \| Optional \(0: default 0\.001\)\. .*Domain: \(0, 1\)/);
    expect(rendered).toMatch(/\| `preset` \| 11 \| optional string \| Optional/);
    expect(rendered).toMatch(/\| `ListPresets` \| \[ListPresetsRequest\]\(#listpresetsrequest\) \| \[ListPresetsResponse\]\(#listpresetsresponse\) \|/);
    expect(rendered).toMatch(/\| `StreamingCertify` \| stream \[StreamingCertifyRequest\]\(#streamingcertifyrequest\) \| stream \[StreamingCertifyResponse\]/);
    expect(rendered).toMatch(/\| `image` \| 3 \| bytes \(oneof `input`\) \|/);
    const headings = new Set([...rendered.matchAll(/^### (\w+)$/gm)].map((m) => m[1]!.toLowerCase()));
    const links = [...rendered.matchAll(/\]\(#(\w+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(50);
    expect(links.filter((l) => !headings.has(l))).toEqual([]);
  });
});
