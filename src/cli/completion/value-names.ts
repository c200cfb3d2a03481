/**
 * What the value of an option or argument completes with: its `.choices()` when it has
 * them, else what its placeholder name in src/cli/main.ts says (`--target <dir>`,
 * `backup [path...]`). This is the one place that reads meaning into those names:
 *
 * - `file`, `path`: a file or directory of this machine. The paths of `ls`, `dump` and
 *   `restore --include` are inside a snapshot, which completion does not read: local
 *   names are offered there too, which match when the snapshot holds this tree.
 * - `dir`: a directory (`restore --target`, `restore --seed`).
 * - `location`, `repo`, `src`, `dst`: a repository, completed as a directory;
 *   `s3:...` and `http(s)://...` locations are typed by hand.
 * - `snapshot`, `snapshot1`, `snapshot2`...: a snapshot selector, completed as
 *   `latest`. Ids and tags are in the repository, which completion never opens (no
 *   password prompt, no network at a Tab).
 * - `command`: a command of the same level (commander's own `help [command]`).
 *
 * Any other name (`<n>`, `<size>`, `<tag>`, `<glob>`, `<cmd>`, forget's `[id...]`)
 * is free text: nothing is offered, rather than file names that cannot be right.
 */

/** Candidates for a value. */
export type ValueCompletion =
  | { kind: 'text' }
  | { kind: 'file' }
  | { kind: 'directory' }
  | { kind: 'words'; words: readonly string[] };

const FILE_NAMES = new Set(['file', 'path']);
const DIRECTORY_NAMES = new Set(['dir', 'location', 'repo', 'src', 'dst']);
const SNAPSHOT_NAME = /^snapshot\d*$/;
const COMMAND_NAME = 'command';

/**
 * The completion of a value named `name` (without `<>`, `[]` or `...`), with `choices`
 * if it has any; `commands` are the names a `command` value may take.
 */
export function valueCompletion(
  name: string,
  choices: readonly string[] | undefined,
  commands: readonly string[],
): ValueCompletion {
  if (choices !== undefined) return { kind: 'words', words: choices };
  if (FILE_NAMES.has(name)) return { kind: 'file' };
  if (DIRECTORY_NAMES.has(name)) return { kind: 'directory' };
  if (SNAPSHOT_NAME.test(name)) return { kind: 'words', words: ['latest'] };
  if (name === COMMAND_NAME) return { kind: 'words', words: commands };
  return { kind: 'text' };
}
