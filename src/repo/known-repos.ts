/**
 * This machine's record of the encrypted repositories it has opened, so that one whose
 * config and key slots were both replaced (by someone who can write to the storage but
 * has no password) is not taken for an unencrypted repository, into which the next
 * backup would go in the clear. borg keeps the same kind of record ("security dir").
 *
 * Two marks per repository, written when it is opened with its password (or created
 * encrypted): one under its id, one under its location. A config that says `encryption:
 * none` is then refused when either mark exists: the location (whatever id the new
 * config claims) or the id (the same repository reached at another location). A local
 * location is taken through `realpath`, so a symlink to it is the same location; other
 * spellings of one remote location (an S3 bucket named with and without its endpoint)
 * are not. A mark's existence is what counts; its JSON content (location, id, date)
 * only makes the message say more, so a damaged mark still protects, and a record that
 * cannot be looked at (no permission) refuses too rather than let a downgrade through.
 *
 * Marks live in `$CAIRN_STATE_DIR`, else `$XDG_STATE_HOME/cairn`, else
 * `~/.local/state/cairn`, under `encrypted/`: not in the cache folder, which users
 * empty freely. A mark that cannot be written does not stop the command; `onUnwritable`
 * hears of it (the CLI says that a downgrade would then go unnoticed).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { FormatError } from '../core/errors.js';
import { CONFIG_KEY } from './layout.js';

/**
 * The state root: $CAIRN_STATE_DIR (made absolute), else $XDG_STATE_HOME/cairn (when
 * absolute, as the XDG spec requires), else ~/.local/state/cairn.
 */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CAIRN_STATE_DIR) return resolve(env.CAIRN_STATE_DIR);
  if (env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME)) {
    return join(env.XDG_STATE_HOME, 'cairn');
  }
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

  /**
   * @param onUnwritable called when a mark cannot be written (with the error); the
   *   repository then is not recorded.
   */
  constructor(
    stateDir: string = stateRoot(),
    private readonly onUnwritable?: (location: string, err: Error) => void,
  ) {
    this.dir = join(resolve(stateDir), 'encrypted');
  }

  /** The mark of repository `id`. Ids are validated hex before they get here. */
  markOfId(id: string): string {
    return join(this.dir, `id-${id}`);
  }

  /** The mark of a location (hashed: locations hold slashes, colons, any length). */
  markOfLocation(location: string): string {
    const hash = createHash('sha256').update(sameLocation(location)).digest('hex').slice(0, 40);
    return join(this.dir, `at-${hash}`);
  }

  /**
   * Throws a FormatError naming the config when this machine opened repository `id`,
   * or an encrypted repository at `location`, before: called for a config that says
   * the repository is not encrypted.
   */
  refuseIfEncryptedBefore(location: string, id: string): void {
    const config = `${location}/${CONFIG_KEY}`;
    const byLocation = this.markOfLocation(location);
    if (exists(byLocation, config)) {
      const mark = readMark(byLocation);
      const was = typeof mark.id === 'string' ? ` (${mark.id})` : '';
      throw new FormatError(
        config,
        `says the repository (${id}) is not encrypted, but this location held an encrypted ` +
          `repository${was} when this machine opened it${sinceText(mark)}: it was replaced, ` +
          `and whatever is written to it would be unencrypted; refusing to open it ${removeHint(byLocation)}`,
      );
    }
    const byId = this.markOfId(id);
    if (exists(byId, config)) {
      const mark = readMark(byId);
      throw new FormatError(
        config,
        `says the repository is not encrypted, but this machine opened repository ${id} ` +
          `encrypted before${sinceText(mark)}: its config and key slots were replaced or tampered ` +
          `with, and whatever is written to it would be unencrypted; refusing to open it ${removeHint(byId)}`,
      );
    }
  }

  /**
   * Records that repository `id` at `location` is encrypted. Returns false when the marks
   * could not be written (never throws). Marks already there are not rewritten.
   */
  rememberEncrypted(location: string, id: string): boolean {
    const mark = JSON.stringify({ location, id, since: new Date().toISOString() });
    let ok = true;
    for (const file of [this.markOfId(id), this.markOfLocation(location)]) {
      if (markThere(file)) continue;
      const err = writeMark(file, mark);
      if (err) {
        ok = false;
        this.onUnwritable?.(location, err);
        break; // one report is enough
      }
    }
    return ok;
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

/**
 * A local location as its real path, so a symlink to the repository (or to a folder
 * above it) is the same location. Remote locations, and a local one that cannot be
 * resolved, stay as given.
 */
function sameLocation(location: string): string {
  if (!isAbsolute(location)) return location;
  try {
    return realpathSync(location);
  } catch {
    return location;
  }
}

/**
 * True when `file` is there. Not there (ENOENT) is false; a mark that cannot be looked
 * at (EACCES, a file where the folder should be, an I/O error) refuses the opening of
 * `config` instead: an unreadable record must not let a downgrade through.
 */
function exists(file: string, config: string): boolean {
  try {
    statSync(file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    throw new FormatError(
      config,
      `says the repository is not encrypted, and this machine's record of encrypted ` +
        `repositories cannot be read to tell whether it was (${(err as Error).message}): ` +
        `refusing to open it; fix ${dirname(file)} or point CAIRN_STATE_DIR at a usable folder`,
      { cause: err },
    );
  }
}

/** True when `file` is there (else it is written, and a failure to is reported). */
function markThere(file: string): boolean {
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

/**
 * Writes `text` to `file` durably: a temporary name, fsync, rename, fsync of the folder
 * (the mark's existence is the whole record). The error on failure, else undefined.
 */
function writeMark(file: string, text: string): Error | undefined {
  const temp = `${file}.tmp~${randomBytes(6).toString('hex')}`;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
    const dir = openSync(dirname(file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return undefined;
  } catch (err) {
    try {
      rmSync(temp, { force: true });
    } catch {
      // nothing was made
    }
    return err as Error;
  }
}
