// docs/api.md, rendered from the descriptors buf built from proto/ (with their comments):
// every glcert service, message, field and enum, in proto order. tools/scripts/api-docs.ts
// writes it; api-docs.spec.ts fails when the committed copy differs.
import { fromBinary, isFieldSet } from '@bufbuild/protobuf';
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FileDescriptorProtoSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import { fileDescriptorProtos } from './descriptors';

/** The command that regenerates docs/api.md. */
export const API_DOCS_COMMAND = 'node --import tsx tools/scripts/api-docs.ts --write';

const SCALAR: Record<number, string> = {
  [FieldDescriptorProto_Type.DOUBLE]: 'double',
  [FieldDescriptorProto_Type.FLOAT]: 'float',
  [FieldDescriptorProto_Type.INT64]: 'int64',
  [FieldDescriptorProto_Type.UINT64]: 'uint64',
  [FieldDescriptorProto_Type.INT32]: 'int32',
  [FieldDescriptorProto_Type.FIXED64]: 'fixed64',
  [FieldDescriptorProto_Type.FIXED32]: 'fixed32',
  [FieldDescriptorProto_Type.BOOL]: 'bool',
  [FieldDescriptorProto_Type.STRING]: 'string',
  [FieldDescriptorProto_Type.BYTES]: 'bytes',
  [FieldDescriptorProto_Type.UINT32]: 'uint32',
  [FieldDescriptorProto_Type.SFIXED32]: 'sfixed32',
  [FieldDescriptorProto_Type.SFIXED64]: 'sfixed64',
  [FieldDescriptorProto_Type.SINT32]: 'sint32',
  [FieldDescriptorProto_Type.SINT64]: 'sint64',
};

/** The glcert files (not the vendored google ones), decoded, in dependency order. */
export function glcertFiles(): FileDescriptorProto[] {
  return fileDescriptorProtos()
    .map((b) => fromBinary(FileDescriptorProtoSchema, b))
    .filter((f) => f.name.startsWith('glcert/'));
}

/** Leading comments by source path ("4,0,2,1" -> text), one paragraph, whitespace collapsed. */
function commentsOf(file: FileDescriptorProto): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of file.sourceCodeInfo?.location ?? []) {
    const text = (l.leadingComments ?? '').trim();
    if (text) out.set(l.path.join(','), text.replace(/\s+/g, ' '));
  }
  return out;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');
const anchor = (fullName: string): string => fullName.split('.').pop()!.toLowerCase();

function typeOf(f: FieldDescriptorProto, local: Set<string>): string {
  const t = f.typeName.replace(/^\./, '');
  let name: string;
  if (f.type === FieldDescriptorProto_Type.MESSAGE || f.type === FieldDescriptorProto_Type.ENUM) {
    name = local.has(t) ? `[${t.split('.').pop()}](#${anchor(t)})` : `\`${t}\``;
  } else {
    name = SCALAR[f.type] ?? String(f.type);
  }
  if (f.label === FieldDescriptorProto_Label.REPEATED) return `repeated ${name}`;
  if (f.proto3Optional) return `optional ${name}`;
  return name;
}

/** Every message and enum defined in the glcert files, by full name. */
function definedTypes(files: FileDescriptorProto[]): Set<string> {
  const names = new Set<string>();
  for (const f of files) {
    for (const m of f.messageType) names.add(`${f.package}.${m.name}`);
    for (const e of f.enumType) names.add(`${f.package}.${e.name}`);
  }
  return names;
}

function renderMessage(m: DescriptorProto, path: number[], pkg: string, comments: Map<string, string>, local: Set<string>): string[] {
  const lines = [`### ${m.name}`, '', `\`${pkg}.${m.name}\`. ${comments.get(path.join(',')) ?? ''}`.trimEnd(), ''];
  if (m.field.length === 0) return [...lines, 'No fields.', ''];
  lines.push('| field | number | type | description |', '|---|---|---|---|');
  m.field.forEach((f, i) => {
    const oneof = isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) && !f.proto3Optional ? ` (oneof \`${m.oneofDecl[f.oneofIndex]!.name}\`)` : '';
    const text = comments.get([...path, 2, i].join(',')) ?? '';
    lines.push(`| \`${f.name}\` | ${f.number} | ${typeOf(f, local)}${oneof} | ${cell(text)} |`);
  });
  return [...lines, ''];
}

function renderEnum(e: EnumDescriptorProto, path: number[], pkg: string, comments: Map<string, string>): string[] {
  const lines = [`### ${e.name}`, '', `\`${pkg}.${e.name}\` (enum). ${comments.get(path.join(',')) ?? ''}`.trimEnd(), '', '| value | number | description |', '|---|---|---|'];
  e.value.forEach((v, i) => lines.push(`| \`${v.name}\` | ${v.number} | ${cell(comments.get([...path, 2, i].join(',')) ?? '')} |`));
  return [...lines, ''];
}

/** The whole of docs/api.md. */
export function renderApiDocs(): string {
  const files = glcertFiles();
  const local = definedTypes(files);
  const out: string[] = [
    '# glcert API reference',
    '',
    `<!-- generated from proto/ by \`${API_DOCS_COMMAND}\`; do not edit (a test fails when it is stale) -->`,
    '',
    'Every service, message and field of the glcert protos, with the comments of `proto/`. Request',
    'fields say whether they are **Required** or **Optional**, their unit, their default (for',
    'optional fields: what zero or absence means) and their allowed domain; a value outside it is',
    'INVALID_ARGUMENT naming the field (docs/bad-input.md lists the cases). The numeric domains of',
    'threat models and images are explained in docs/numeric-domains.md; certificates, their DSSE',
    'signature and their verification in docs/certificate.md. Every server also answers gRPC',
    'server reflection (v1 and v1alpha; off with `GRPC_REFLECTION=false`), so',
    '`grpcurl -plaintext 127.0.0.1:50051 describe glcert.certify.v1.CertifyRequest` shows the',
    'same text.',
    '',
    'Server defaults of the certifier: `n0` 200, `n` 1000, `alpha` 0.001 (a request or stream',
    'config with 0 gets them; `ListPresets` returns them too), bound settings `ns` 20000 and 11',
    'grid points per axis.',
    '',
  ];
  for (const f of files) {
    const comments = commentsOf(f);
    out.push(`## ${f.package} (\`proto/${f.name}\`)`, '');
    const header = comments.get('12'); // the syntax statement carries the file comment
    if (header) out.push(header, '');
    f.service.forEach((s, si) => {
      out.push(`### ${s.name} (service)`, '', `\`${f.package}.${s.name}\`. ${comments.get(`6,${si}`) ?? ''}`.trimEnd(), '');
      out.push('| method | request | response | description |', '|---|---|---|---|');
      s.method.forEach((m, mi) => {
        const io = (t: string, stream: boolean | undefined): string => {
          const n = t.replace(/^\./, '');
          return `${stream ? 'stream ' : ''}[${n.split('.').pop()}](#${anchor(n)})`;
        };
        out.push(`| \`${m.name}\` | ${io(m.inputType, m.clientStreaming)} | ${io(m.outputType, m.serverStreaming)} | ${cell(comments.get(`6,${si},2,${mi}`) ?? '')} |`);
      });
      out.push('');
    });
    f.enumType.forEach((e, i) => out.push(...renderEnum(e, [5, i], f.package, comments)));
    f.messageType.forEach((m, i) => out.push(...renderMessage(m, [4, i], f.package, comments, local)));
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

/** Fields of request messages whose comment says neither Required nor Optional (empty when every field does). */
export function undocumentedRequestFields(): string[] {
  const missing: string[] = [];
  const isInput = (name: string): boolean => /(Request|Config|Item)$/.test(name) || ['Tensor', 'ThreatModel', 'ParameterRange', 'SmoothingParameter', 'BoundSettings'].includes(name);
  for (const f of glcertFiles()) {
    const comments = commentsOf(f);
    f.messageType.forEach((m, i) => {
      if (!isInput(m.name)) return;
      m.field.forEach((fld, j) => {
        // a oneof member may lean on its oneof's comment ("Required: one of image or tensor")
        const inOneof = isFieldSet(fld, FieldDescriptorProtoSchema.field.oneofIndex) && !fld.proto3Optional;
        const text = (inOneof ? comments.get(`4,${i},8,${fld.oneofIndex}`) : undefined) ?? comments.get(`4,${i},2,${j}`) ?? '';
        if (!/^(Required|Optional|Output only)\b/.test(text)) missing.push(`${f.package}.${m.name}.${fld.name}`);
      });
    });
  }
  return missing;
}
