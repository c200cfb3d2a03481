/** `cairn key list|add|remove|passwd`: the password slots of an encrypted repository. */
import { UsageError } from '../../core/errors.js';
import { shortId } from '../../core/ids.js';
import {
  addKeySlot,
  isDamagedSlot,
  listKeySlots,
  removeKeySlot,
  resolveKeySlot,
} from '../../repo/key-slots.js';
import { Lock, underLock } from '../../repo/locks.js';
import type { RepoNotice, Repository } from '../../repo/repository.js';
import { type CommandContext, EXIT } from '../context.js';
import { formatTime, table } from '../format.js';
import type { KeyAction } from '../key-actions.js';
import { ignoreNotice, reportNotice } from '../key-slot-notice.js';

export default async function key(
  ctx: CommandContext,
  // One of KEY_ACTIONS: commander refuses any other.
  action: KeyAction,
  slot: string | undefined,
): Promise<number> {
  if (action === 'remove' ? slot === undefined : slot !== undefined) {
    throw new UsageError(
      action === 'remove' ? 'key remove needs a slot id' : `key ${action} takes no slot id`,
    );
  }
  // `key list` lists damaged slots itself (a warning each); the others warn on opening,
  // except `key remove` about the slot it is removing.
  const notices =
    action === 'list'
      ? { onNotice: ignoreNotice }
      : action === 'remove'
        ? {
            onNotice: (n: RepoNotice) => {
              if (!n.slot.startsWith(slot!)) reportNotice(ctx.out, n);
            },
          }
        : {};
  return ctx.withRepo(async (repo) => {
    if (!repo.keys || !repo.keySlot) {
      throw new UsageError(`${repo.location} is not encrypted: it has no key slots`);
    }
    if (action === 'list') return list(ctx, repo);
    // Changes exclude each other (and prune, forget): two `key remove`s at once, each of
    // the other's slot, would otherwise both see two slots and leave none.
    // Asked first: the lock is not held while someone types.
    const password = action === 'remove' ? '' : await ctx.password('new');
    const lock = await Lock.acquire(repo.backend, {
      exclusive: true,
      operation: `key ${action}`,
      signal: ctx.signal,
    });
    return underLock(lock, () => change(ctx, repo, action, slot, password));
  }, notices);
}

/** `key add`, `key remove SLOT` or `key passwd` (`newPassword`), under the exclusive lock. */
async function change(
  ctx: CommandContext,
  repo: Repository,
  action: KeyAction,
  slot: string | undefined,
  newPassword: string,
): Promise<number> {
  if (!repo.keys || !repo.keySlot) throw new Error('unreachable: checked by the caller');
  switch (action) {
    case 'add': {
      const id = await addKeySlot(repo.backend, repo.config.id, repo.keys, newPassword);
      ctx.out.event({ type: 'key', action: 'added', id });
      ctx.out.event({ type: 'summary', operation: 'key add', id });
      ctx.out.result(`added key slot ${shortId(id)}`);
      return EXIT.ok;
    }
    case 'remove': {
      const id = await resolveKeySlot(repo.backend, slot!);
      // Damaged slots open nothing: they do not count as another way in.
      const readable = (await listKeySlots(repo.backend)).filter((s) => !isDamagedSlot(s));
      if (!readable.some((s) => s.id === repo.keySlot)) {
        throw new UsageError(
          `key slot ${shortId(repo.keySlot)}, which this password opened, was removed meanwhile: ` +
            'open the repository with a password that still has a slot',
        );
      }
      if (id === repo.keySlot && readable.length > 1) {
        throw new UsageError(
          `key slot ${shortId(id)} is the one this password opens: remove it with another password, or use 'key passwd'`,
        );
      }
      if (id === repo.keySlot) {
        throw new UsageError(
          `key slot ${shortId(id)} is the last one that opens the repository: removing it would make the repository unreadable (use 'key passwd' to change the password)`,
        );
      }
      await removeKeySlot(repo.backend, id);
      ctx.out.event({ type: 'key', action: 'removed', id });
      ctx.out.event({ type: 'summary', operation: 'key remove', id });
      ctx.out.result(`removed key slot ${shortId(id)}`);
      return EXIT.ok;
    }
    default: {
      // passwd: a new slot for the new password, then the old slot goes.
      const id = await addKeySlot(repo.backend, repo.config.id, repo.keys, newPassword);
      await removeKeySlot(repo.backend, repo.keySlot);
      ctx.out.event({ type: 'key', action: 'changed', id, replaced: repo.keySlot });
      ctx.out.event({ type: 'summary', operation: 'key passwd', id, replaced: repo.keySlot });
      ctx.out.result(
        `changed the password: key slot ${shortId(repo.keySlot)} replaced by ${shortId(id)}`,
      );
      return EXIT.ok;
    }
  }
}

async function list(ctx: CommandContext, repo: Repository): Promise<number> {
  const slots = await listKeySlots(repo.backend);
  let damaged = 0;
  for (const s of slots) {
    if (isDamagedSlot(s)) {
      damaged++;
      ctx.out.event({ type: 'key', id: s.id, current: false, damaged: s.damaged });
      continue;
    }
    ctx.out.event({
      type: 'key',
      id: s.id,
      current: s.id === repo.keySlot,
      created: s.created,
      hostname: s.hostname,
      kdf: { name: s.kdf.name, logN: s.kdf.logN, r: s.kdf.r, p: s.kdf.p },
    });
  }
  ctx.out.event({ type: 'summary', operation: 'key list', keys: slots.length, damaged });
  if (!ctx.out.json) {
    const rows = [[' ', 'ID', 'Created', 'Host', 'KDF']];
    for (const s of slots) {
      if (isDamagedSlot(s)) {
        rows.push([' ', shortId(s.id), '?', '?', 'damaged: cannot be read']);
        continue;
      }
      rows.push([
        s.id === repo.keySlot ? '*' : ' ',
        shortId(s.id),
        s.created ? formatTime(s.created) : '?',
        s.hostname,
        `scrypt N=2^${s.kdf.logN} r=${s.kdf.r} p=${s.kdf.p}`,
      ]);
    }
    ctx.out.result(table(rows));
  }
  for (const s of slots) {
    if (isDamagedSlot(s)) {
      ctx.out.warn(`${s.damaged} (remove it with 'cairn key remove ${shortId(s.id)}')`);
    }
  }
  // A damaged slot opens nothing: worth the attention of whoever reads the exit code.
  return damaged > 0 ? EXIT.partial : EXIT.ok;
}
