/**
 * Exclude patterns (`--exclude GLOB`, `--exclude-file F`).
 *
 * A pattern without `/` matches a file or directory name anywhere (`*.o`,
 * `node_modules`). A pattern starting with `/` matches the whole absolute path
 * (`/home/*\/.cache`); one with `/` elsewhere (`build/tmp`) matches those last path
 * components at any depth, as restic does (`**\/build/tmp`). A pattern matching a
 * directory excludes everything below it. Globs: `*` is any run of characters except
 * `/`, `**` is any run including `/`, `?` one character except `/`, `[abc]`/`[a-z]`/
 * `[!a]` (or `[^a]`) a class, which never matches `/` and takes a `]` first as itself
 * (`[]a]`); `\` escapes the next character, in a class too. A line of an exclude
 * file that is empty or starts with `#` is ignored, and lines are trimmed; a pattern
 * given directly (`--exclude`) is taken as it is, `#` and spaces included.
 */
import { readFile } from 'node:fs/promises';
import { errorCause } from '../core/errno.js';
import { UsageError } from '../core/errors.js';

/** A compiled set of exclude patterns. */
export class ExcludeMatcher {
  private readonly byName: RegExp[] = [];
  private readonly byPath: RegExp[] = [];

  /** `ignoreCase`: match in any case (`find -i`). */
  constructor(patterns: readonly string[], options: { ignoreCase?: boolean } = {}) {
    const flags = options.ignoreCase ? 'sui' : 'su';
    for (const raw of patterns) {
      if (raw === '') continue;
      const trimmed = raw.length > 1 && raw.endsWith('/') ? raw.slice(0, -1) : raw;
      refuseUnmatchable(trimmed, raw);
      if (trimmed.startsWith('/')) this.byPath.push(globToRegExp(trimmed, raw, flags));
      else if (trimmed.includes('/')) this.byPath.push(globToRegExp(`**/${trimmed}`, raw, flags));
      else this.byName.push(globToRegExp(trimmed, raw, flags));
    }
  }

  /** True when some pattern matches paths, not names (its matches depend on where). */
  get matchesPaths(): boolean {
    return this.byPath.length > 0;
  }

  /** True when nothing is excluded. */
  get empty(): boolean {
    return this.byName.length === 0 && this.byPath.length === 0;
  }

  /** True when the file or directory at absolute `path` named `name` is excluded. */
  excludes(path: string, name: string): boolean {
    return this.byName.some((r) => r.test(name)) || this.byPath.some((r) => r.test(path));
  }
}

/** Reads patterns from exclude files, one per line. */
export async function readExcludeFiles(files: readonly string[]): Promise<string[]> {
  const patterns: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read exclude file ${f}: ${errorCause(err)}`, { cause: err });
    }
    for (const [i, line] of text
      .replace(/^\uFEFF/, '')
      .split(/\r?\n/)
      .entries()) {
      const p = trimLine(line);
      if (p === '' || p.startsWith('#')) continue;
      try {
        checkExcludePattern(p);
      } catch (err) {
        throw new UsageError(`${f} line ${i + 1}: ${(err as Error).message}`, { cause: err });
      }
      patterns.push(p);
    }
  }
  return patterns;
}

/** Throws a UsageError naming `pattern` if it is not a valid exclude pattern. */
export function checkExcludePattern(pattern: string): void {
  new ExcludeMatcher([pattern]);
}

/**
 * An exclude file's line without its surrounding whitespace, except a last space or tab
 * escaped with `\` (`name\ ` names a file ending in a space, as in .gitignore).
 */
function trimLine(line: string): string {
  const start = line.trimStart();
  const end = start.trimEnd();
  const escaped = /(?:^|[^\\])(?:\\\\)*\\$/.test(end);
  return end.length < start.length && escaped ? start.slice(0, end.length + 1) : end;
}

/**
 * Refuses a pattern no path can match: paths are absolute and normalized, so a `.`,
 * `..` or empty component, or `/` alone, never appears in one (`./src` would silently
 * exclude nothing).
 */
function refuseUnmatchable(pattern: string, original: string): void {
  if (pattern === '/') {
    throw new UsageError(`exclude pattern ${original} can never match: name what is below /`);
  }
  if (!pattern.includes('/')) return;
  const parts = pattern.split('/');
  for (const [i, part] of parts.entries()) {
    if (part === '' && i === 0) continue; // the leading `/` of an absolute pattern
    if (part === '' || part === '.' || part === '..') {
      const what = part === '' ? 'an empty component (//)' : `a ${part} component`;
      throw new UsageError(
        `exclude pattern ${original} can never match: it has ${what}, and paths are matched normalized`,
      );
    }
  }
}

/** Compiles one glob to an anchored RegExp. */
export function globToRegExp(glob: string, original = glob, flags = 'su'): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '\\') {
      const next = glob[++i];
      if (next === undefined) throw new UsageError(`exclude pattern ${original} ends with \\`);
      re += escapeRegExp(next);
    } else if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        // `**/` also matches zero directories.
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const cls = classAt(glob, i, original);
      re += cls.re;
      i = cls.end;
    } else re += escapeRegExp(c);
  }
  try {
    // `u`: `?` and classes take a whole character, an emoji in a name included.
    return new RegExp(`^${re}$`, flags);
  } catch (err) {
    throw new UsageError(`bad exclude pattern ${original}`, { cause: err });
  }
}

/**
 * The class starting at `glob[start]` (a `[`): its RegExp and the index of its `]`. A
 * `]` right after `[` or `[!` is a member; `\` escapes a member; `a-z` is a range. A
 * class never matches `/`, as in shell globs over paths.
 */
function classAt(glob: string, start: number, original: string): { re: string; end: number } {
  let i = start + 1;
  const negated = glob[i] === '!' || glob[i] === '^';
  if (negated) i++;
  let members = '';
  const first = i;
  for (;;) {
    const c = glob[i];
    if (c === undefined) throw new UsageError(`exclude pattern ${original} has an unclosed [`);
    if (c === ']' && i > first) break;
    const member = classMember(glob, i, original);
    members += escapeClassMember(member.char);
    i = member.end + 1;
    // A range: `a-z`, but not a `-` just before the closing `]`.
    if (glob[i] === '-' && glob[i + 1] !== undefined && glob[i + 1] !== ']') {
      const upper = classMember(glob, i + 1, original);
      if ((upper.char.codePointAt(0) ?? 0) < (member.char.codePointAt(0) ?? 0)) {
        throw new UsageError(
          `exclude pattern ${original} has a range out of order: ${member.char}-${upper.char}`,
        );
      }
      members += `-${escapeClassMember(upper.char)}`;
      i = upper.end + 1;
    }
  }
  return { re: `(?!/)[${negated ? '^' : ''}${members}]`, end: i };
}

/** The class member at `glob[i]` (an escaped character with its `\`): it and its last index. */
function classMember(glob: string, i: number, original: string): { char: string; end: number } {
  let at = i;
  if (glob[at] === '\\') {
    at++;
    if (glob[at] === undefined) throw new UsageError(`exclude pattern ${original} ends with \\`);
  }
  const cp = glob.codePointAt(at)!;
  const char = String.fromCodePoint(cp);
  return { char, end: at + char.length - 1 };
}

function escapeClassMember(c: string): string {
  return c.replace(/[\\\][^-]/g, '\\$&');
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
