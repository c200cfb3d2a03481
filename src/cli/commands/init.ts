/** `cairn init`: create a repository (and, on S3, its bucket when missing). */
import type { Backend, CallOptions } from '../../backends/backend.js';
import { UsageError } from '../../core/errors.js';
import { type ConfigOptions, MAX_INLINE, paramsOf } from '../../repo/config.js';
import { preset, presetOptions } from '../../repo/presets.js';
import { initRepository } from '../../repo/repository.js';
import { chunkerFromFlags, exactSize } from '../chunker-options.js';
import { baseBackend, type CommandContext, EXIT } from '../context.js';
import { formatBytes } from '../format.js';
import { parseSize } from '../parse.js';

interface InitOptions {
  min?: string;
  avg?: string;
  max?: string;
  level?: string;
  seed?: string;
  inlineMax?: string;
  copyParamsFrom?: string;
  /** False with --no-encryption. */
  encryption?: boolean;
  compression?: 'off' | 'auto' | 'max';
  preset?: string;
}

/** A backend that can create its own container (S3Backend.ensureBucket). */
interface BucketBackend extends Backend {
  ensureBucket(options?: CallOptions): Promise<boolean>;
}

function hasEnsureBucket(b: Backend): b is BucketBackend {
  return typeof (b as Partial<BucketBackend>).ensureBucket === 'function';
}

export default async function init(ctx: CommandContext, opts: InitOptions): Promise<number> {
  const config = await configOptions(ctx, opts);
  // An explicit --compression wins; then the preset's (or the copied repository's).
  config.compression = opts.compression ?? config.compression ?? 'auto';
  // A copy of an unencrypted repository is unencrypted too: the two give equal data
  // equal ids only then, which is what `sync` between them needs.
  const copiesUnencrypted = opts.copyParamsFrom !== undefined && !config.encryption?.shareWith;
  if (copiesUnencrypted) {
    delete config.encryption;
    ctx.out.line(`${opts.copyParamsFrom} is not encrypted: neither is the new repository`);
  } else if (opts.encryption !== false) {
    config.encryption = {
      password: await ctx.password('create'),
      ...(config.encryption?.shareWith ? { shareWith: config.encryption.shareWith } : {}),
    };
  } else if (config.encryption?.shareWith) {
    throw new UsageError(
      `${opts.copyParamsFrom} is encrypted: a repository copying its parameters must be encrypted too ` +
        `(its chunker seed is secret); drop --no-encryption`,
    );
  } else {
    delete config.encryption;
  }
  const backend = await ctx.openBackend(ctx.repoLocation);
  let created = false;
  try {
    const base = baseBackend(backend);
    if (hasEnsureBucket(base) && backend.capabilities.writable) {
      created = await base.ensureBucket({ signal: ctx.signal });
    }
  } catch (err) {
    await backend.close();
    throw err;
  }
  const repo = await initRepository(backend, config).catch(async (err) => {
    await backend.close();
    throw err;
  });
  try {
    const c = repo.config;
    // What this machine knows of the location now: this new repository.
    const known = await ctx.knownRepositories();
    known.forgetLocation(repo.location);
    if (c.encryption !== 'none') known.rememberEncrypted(repo.location, c.id);
    ctx.out.event({
      type: 'summary',
      operation: 'init',
      repository: repo.location,
      id: c.id,
      chunker: {
        ...c.chunker,
        seed: c.encryption === 'none' ? c.chunker.seed.toString() : 'secret',
      },
      encryption: c.encryption,
      compression: c.compression,
      inlineMax: c.inlineMax,
      paging: c.paging,
      bucketCreated: created,
      ...(opts.copyParamsFrom ? { paramsFrom: opts.copyParamsFrom } : {}),
    });
    if (created) ctx.out.line(`created bucket for ${repo.location}`);
    ctx.out.result(
      `created ${c.encryption === 'none' ? 'unencrypted' : 'encrypted'} cairn repository ${c.id.slice(0, 8)} at ${repo.location}`,
    );
    const given = c.encryption === 'none' ? ctx.givenPasswordSource('repo') : undefined;
    if (given) {
      ctx.out.note(
        `${given} is set, and commands refuse an unencrypted repository a password is given for: leave it out for this one`,
      );
    }
    ctx.out.line(
      `chunks: min ${formatBytes(c.chunker.min)}, avg ${formatBytes(c.chunker.avg)}, max ${formatBytes(c.chunker.max)}, level ${c.chunker.level}; inline files up to ${formatBytes(c.inlineMax)}; compression ${c.compression}` +
        (opts.copyParamsFrom
          ? ` (copied from ${opts.copyParamsFrom}${opts.compression !== undefined ? '; compression as given' : ''})`
          : ''),
    );
    return EXIT.ok;
  } finally {
    await repo.close();
  }
}

/** The config choices: from the flags, or copied from another repository. */
async function configOptions(ctx: CommandContext, opts: InitOptions): Promise<ConfigOptions> {
  if (opts.copyParamsFrom !== undefined) {
    const conflicting = (
      ['min', 'avg', 'max', 'level', 'seed', 'inlineMax', 'preset'] as const
    ).filter((k) => opts[k] !== undefined);
    if (conflicting.length > 0) {
      const flags = conflicting.map((k) => (k === 'inlineMax' ? '--inline-max' : `--${k}`));
      throw new UsageError(`--copy-params-from cannot be combined with ${flags.join(', ')}`);
    }
    const other = await ctx.openRepoAt(opts.copyParamsFrom, {
      passwordRole: 'from',
    });
    try {
      // An encrypted source also gives its id key and secret seed (its encryption key
      // is not shared: the new repository gets its own).
      return {
        ...paramsOf(other.config),
        ...(other.keys ? { encryption: { password: '', shareWith: other.keys } } : {}),
      };
    } finally {
      await other.close();
    }
  }
  const presetName = opts.preset ?? 'backup';
  const base = preset(presetName).chunker;
  // Checked here, not by newConfig, so that an error names the option as typed (with
  // --avg alone, min and max are derived from it, like `cairn chunk` does, rather than
  // left at the preset's, which a larger or smaller avg falls outside of).
  const chunker = chunkerFromFlags(opts, {
    ...base,
    name: opts.preset === undefined ? 'the default' : `the ${presetName} preset's`,
  });
  const explicit: ConfigOptions = {
    chunker,
    ...(opts.inlineMax !== undefined ? { inlineMax: inlineMax(opts.inlineMax) } : {}),
  };
  return presetOptions(presetName, explicit);
}

function inlineMax(text: string): number {
  const value = parseSize(text, '--inline-max');
  if (value > MAX_INLINE) {
    throw new UsageError(`--inline-max ${text}: must be at most ${exactSize(MAX_INLINE)}`);
  }
  return value;
}
