/**
 * Telling the user about damaged key slots when a command opens a repository (the
 * default of CommandContext.openRepoAt): a warning on stderr (`warning: key slot
 * 1a2b3c4d of REPO is damaged ...`, also with --quiet) and with --json a
 * `{"type":"notice","code":"key-slot-damaged",...}` event, once per slot and command.
 * It leaves the exit code alone: the repository opened with another slot. `check` and
 * `key list` report damaged slots themselves and pass `ignoreNotice` instead.
 */
import type { RepoNotice } from '../repo/repository.js';
import type { Output } from './output.js';

/** What each Output (one per command run) has said already. */
const said = new WeakMap<Output, Set<string>>();

/** An `onNotice` for commands that report damaged key slots themselves. */
export function ignoreNotice(_notice: RepoNotice): void {}

/** Prints `notice` once per command. */
export function reportNotice(out: Output, notice: RepoNotice): void {
  let seen = said.get(out);
  if (!seen) {
    seen = new Set();
    said.set(out, seen);
  }
  const key = `${notice.repository}\0${notice.slot}`;
  if (seen.has(key)) return;
  seen.add(key);
  out.warn(notice.message, notice);
}
