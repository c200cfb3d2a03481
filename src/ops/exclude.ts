/**
 * Exclude patterns (`--exclude GLOB`, `--exclude-file F`).
 *
 * A pattern without `/` matches a file or directory name anywhere (`*.o`,
 * `node_modules`). A pattern with `/` matches the whole absolute path (`/home/*\/.cache`);
 * a pattern matching a directory excludes everything below it. Globs: `*` is any run of
 * characters except `/`, `**` is any run including `/`, `?` one character except `/`,
 * `[abc]`/`[a-z]`/`[!a]` a class; `\` escapes the next character. A line of an exclude
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

  constructor(patterns: readonly string[]) {
    for (const raw of patterns) {
      const p = raw;
      if (p === '') continue;
      const trimmed = p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
      if (trimmed.includes('/')) this.byPath.push(globToRegExp(trimmed, raw));
      else this.byName.push(globToRegExp(trimmed, raw));
    }
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
    for (const line of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
      const p = line.trim();
      if (p !== '' && !p.startsWith('#')) patterns.push(p);
    }
  }
  return patterns;
}

/** Compiles one glob to an anchored RegExp. */
export function globToRegExp(glob: string, original = glob): RegExp {
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
      const end = glob.indexOf(']', i + 2);
      if (end < 0) throw new UsageError(`exclude pattern ${original} has an unclosed [`);
      let body = glob.slice(i + 1, end);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRegExp(c);
  }
  try {
    return new RegExp(`^${re}$`, 's');
  } catch (err) {
    throw new UsageError(`bad exclude pattern ${original}`, { cause: err });
  }
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
