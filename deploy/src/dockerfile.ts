// A structural reading of deploy/docker/Dockerfile (hadolint is not available here): the
// instructions, the build stages, and what each target inherits from the stages it builds on.
import path from 'node:path';

export interface Instruction {
  keyword: string; // upper case: FROM, RUN, COPY, ...
  args: string; // the rest of the (joined) line
  line: number; // 1-based line of the instruction's first line
}

export interface Stage {
  name: string | null; // `AS name`
  from: string; // the FROM image or stage, as written
  image: string; // with ARG defaults substituted
  instructions: Instruction[];
}

export interface Dockerfile {
  globalArgs: Record<string, string>;
  stages: Stage[];
  instructions: Instruction[];
}

/** Instructions with continuation lines joined and comments / blank lines dropped. */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i].trim();
    if (first === '' || first.startsWith('#')) continue;
    const start = i + 1;
    let joined = lines[i].replace(/\s+$/, '');
    while (joined.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i].trim();
      joined = joined.slice(0, -1) + (next.startsWith('#') ? '' : ' ' + next);
    }
    const m = /^\s*(\w+)\s*(.*)$/.exec(joined);
    if (m) out.push({ keyword: m[1].toUpperCase(), args: m[2].trim(), line: start });
  }
  return out;
}

function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (ref, a?: string, b?: string) => vars[(a ?? b) as string] ?? ref);
}

export function parseDockerfile(text: string): Dockerfile {
  const all = instructions(text);
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of all) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: cannot read FROM ${ins.args}`);
      stages.push({ name: m[2] ?? null, from: m[1], image: substitute(m[1], globalArgs), instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`line ${ins.line}: ${ins.keyword} before the first FROM`);
      const [name, value] = ins.args.split('=', 2);
      globalArgs[name] = value ?? '';
    } else {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { globalArgs, stages, instructions: all };
}

export function stage(df: Dockerfile, name: string): Stage {
  const s = df.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage named ${name}`);
  return s;
}

/** The stage and its ancestors (stages it is built FROM), nearest first. */
export function lineage(df: Dockerfile, s: Stage): Stage[] {
  const chain = [s];
  let current = s;
  for (;;) {
    const parent = df.stages.find((x) => x.name !== null && x.name === current.image && df.stages.indexOf(x) < df.stages.indexOf(current));
    if (!parent) return chain;
    chain.push(parent);
    current = parent;
  }
}

/** The external base image a stage ends up on (following FROM <stage> links). */
export function baseImage(df: Dockerfile, s: Stage): string {
  const chain = lineage(df, s);
  return chain[chain.length - 1].image;
}

/** Last value of an instruction along the lineage (USER, CMD, ENTRYPOINT, WORKDIR). */
export function effectiveInstruction(df: Dockerfile, s: Stage, keyword: string): Instruction | undefined {
  for (const st of lineage(df, s)) {
    const found = [...st.instructions].reverse().find((i) => i.keyword === keyword);
    if (found) return found;
  }
  return undefined;
}

/** ENV values along the lineage (nearest stage wins). Supports `ENV A=1 B="x y"`. */
export function imageEnv(df: Dockerfile, s: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const st of [...lineage(df, s)].reverse()) {
    for (const ins of st.instructions.filter((i) => i.keyword === 'ENV')) {
      for (const m of ins.args.matchAll(/(\w+)=("([^"]*)"|\S+)/g)) env[m[1]] = m[3] ?? m[2];
    }
  }
  return env;
}

/** Ports EXPOSEd along the lineage. */
export function exposedPorts(df: Dockerfile, s: Stage): number[] {
  return lineage(df, s).flatMap((st) => st.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => Number(p.split('/')[0]))));
}

/** The image's exec-form argv (ENTRYPOINT then CMD), or null when either is in shell form. */
export function execArgv(df: Dockerfile, s: Stage): string[] | null {
  const parts: string[] = [];
  for (const keyword of ['ENTRYPOINT', 'CMD']) {
    const ins = effectiveInstruction(df, s, keyword);
    if (!ins) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(ins.args);
    } catch {
      return null;
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) return null;
    parts.push(...(parsed as string[]));
  }
  return parts;
}

// ---- .dockerignore ------------------------------------------------------------------------------

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*') {
      re += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether a context path is excluded by .dockerignore patterns (Docker semantics: patterns are
 * cleaned paths from the context root, the last matching pattern wins, `!` re-includes, and a
 * pattern that matches a directory matches everything below it).
 */
export function dockerignoreExcludes(patterns: string[], file: string): boolean {
  const rules = patterns
    .map((p) => p.trim())
    .filter((p) => p !== '' && !p.startsWith('#'))
    .map((p) => {
      const negate = p.startsWith('!');
      const cleaned = path.posix.normalize((negate ? p.slice(1) : p).trim()).replace(/^\/+|\/+$/g, '');
      return { negate, re: globToRegExp(cleaned) };
    });
  const segments = file.split('/');
  let excluded = false;
  for (const rule of rules) {
    for (let n = 1; n <= segments.length; n++) {
      if (rule.re.test(segments.slice(0, n).join('/'))) {
        excluded = !rule.negate;
        break;
      }
    }
  }
  return excluded;
}
