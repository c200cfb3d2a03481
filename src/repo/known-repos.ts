/**
 * This machine's record of the encrypted repositories it has opened, so that one whose
 * config and key slots were both replaced (by someone who can write to the storage but
 * has no password) is not taken for an unencrypted repository, into which the next
 * backup would go in the clear. borg keeps the same kind of record ("security dir").
 *
 * Two marks per repository, written when it is opened with its password (or created
 * encrypted): one under its id, one under its location. A config that says `encryption:
 * none` is then refused when either mark exists: the id (the config was rewritten in
 * place) or the location (a new unencrypted repository was put where the encrypted one
 * was). A mark's existence is what counts; its JSON content (location, id, date) only
 * makes the message say more, so a damaged mark still protects.
 *
 * Marks live in `$CAIRN_STATE_DIR`, else `$XDG_STATE_HOME/cairn`, else
 * `~/.local/state/cairn`, under `encrypted/`: not in the cache folder, which users
 * empty freely. Writing one is best effort (a read-only home must not stop a backup).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../core/errors.js';
import { CONFIG_KEY } from './layout.js';

/** The state root: $CAIRN_STATE_DIR, else $XDG_STATE_HOME/cairn, else ~/.local/state/cairn. */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CAIRN_STATE_DIR) return env.CAIRN_STATE_DIR;
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'cairn');
  return join(homedir(), '.local', 'state', 'cairn');
}

/** What a mark holds (informative only: see the module comment). */
interface Mark {
  location?: unknown;
  id?: unknown;
  since?: unknown;
}

/** See the module comment. */
export class KnownRepositories {
  /** The folder of the marks. */
  readonly dir: string;

  constructor(stateDir: string = stateRoot()) {
    this.dir = join(stateDir, 'encrypted');
  }

  /** The mark of repository `id`. Ids are validated hex before they get here. */
  markOfId(id: string): string {
    return join(this.dir, `id-${id}`);
  }

  /** The mark of a location (hashed: locations hold slashes, colons, any length). */
  markOfLocation(location: string): string {
    const hash = createHash('sha256').update(location).digest('hex').slice(0, 40);
    return join(this.dir, `at-${hash}`);
  }

  /**
   * Throws a FormatError naming the config when this machine opened repository `id`,
   * or an encrypted repository at `location`, before: called for a config that says
   * the repository is not encrypted.
   */
  refuseIfEncryptedBefore(location: string, id: string): void {
    const config = `${location}/${CONFIG_KEY}`;
    const byId = this.markOfId(id);
    if (exists(byId)) {
      const mark = readMark(byId);
      throw new FormatError(
        config,
        `says the repository is not encrypted, but this machine opened repository ${id} ` +
          `encrypted before${sinceText(mark)}: the config and key slots were replaced or tampered ` +
          `with, and backups would be written unencrypted; refusing to open it ${removeHint(byId)}`,
      );
    }
    const byLocation = this.markOfLocation(location);
    if (exists(byLocation)) {
      const mark = readMark(byLocation);
      const was = typeof mark.id === 'string' ? ` (${mark.id})` : '';
      throw new FormatError(
        config,
        `says the repository (${id}) is not encrypted, but this location held an encrypted ` +
          `repository${was} when this machine opened it${sinceText(mark)}: it was replaced, ` +
          `and backups would be written unencrypted; refusing to open it ${removeHint(byLocation)}`,
      );
    }
  }

  /**
   * Records that repository `id` at `location` is encrypted. Returns false when the marks
   * could not be written (never throws). Marks already there are not rewritten.
   */
  rememberEncrypted(location: string, id: string): boolean {
    const mark = JSON.stringify({ location, id, since: new Date().toISOString() });
    return [this.markOfId(id), this.markOfLocation(location)].every((file) =>
      exists(file) ? true : writeMark(file, mark),
    );
  }

  /**
   * Forgets what was recorded for `location` (`cairn init` put a new repository there
   * on purpose). The old repository's id mark stays. Returns false on failure.
   */
  forgetLocation(location: string): boolean {
    try {
      rmSync(this.markOfLocation(location), { force: true });
      return true;
    } catch {
      return false;
    }
  }
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

function readMark(file: string): Mark {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return parsed !== null && typeof parsed === 'object' ? (parsed as Mark) : {};
  } catch {
    return {};
  }
}

function sinceText(mark: Mark): string {
  const at = typeof mark.location === 'string' ? ` at ${mark.location}` : '';
  const since = typeof mark.since === 'string' ? ` (first on ${mark.since})` : '';
  return `${at}${since}`;
}

function removeHint(file: string): string {
  return `(if you replaced it with an unencrypted repository yourself, remove ${file})`;
}

/** Writes `text` to `file` by a temporary name and a rename; false on failure. */
function writeMark(file: string, text: string): boolean {
  const temp = `${file}.tmp~${randomBytes(6).toString('hex')}`;
  try {
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(temp, text, { mode: 0o600 });
    renameSync(temp, file);
    return true;
  } catch {
    try {
      rmSync(temp, { force: true });
    } catch {
      // nothing was made
    }
    return false;
  }
}
