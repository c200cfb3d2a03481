/**
 * Named starting points for `init`: chunk sizes, inline threshold and compression
 * chosen from measurements (docs/design.md › Presets, docs/performance.md).
 *
 * - `backup` (the default): avg 64 KiB (16..256 KiB), files up to 16 KiB inline,
 *   directory pages of 256 KiB (64 KiB..1 MiB), zstd level 3 when it pays. A balance of
 *   deduplication and object count for general data.
 * - `builds`: avg 16 KiB (4..64 KiB), files up to 4 KiB inline, pages of 64 KiB
 *   (16..256 KiB), zstd level 11 when it pays. For publishing every build of a product
 *   side by side and restoring versions over slow links: smaller chunks and pages make
 *   the next version's new bytes smaller (a patch release of typescript adds 0.6 MiB at
 *   16 KiB chunks against 2.6 MiB at 64 KiB, before compression), and builds are written
 *   once and read many times, so the slower compression pays. It costs about 3x the
 *   objects of `backup`.
 */
import { UsageError } from '../core/errors.js';
import { DEFAULT_PAGING, type PagingParams, SMALL_PAGING } from '../manifest/paging.js';
import type { CompressionMode } from './codec.js';
import type { ConfigOptions } from './config.js';

/** The names `init --preset` accepts. */
export const PRESET_NAMES = ['backup', 'builds'] as const;

/** A preset name. */
export type PresetName = (typeof PRESET_NAMES)[number];

/** What a preset chooses. */
export interface Preset {
  chunker: { min: number; avg: number; max: number };
  inlineMax: number;
  paging: PagingParams;
  compression: CompressionMode;
}

const KiB = 1024;

/** The presets; see the module comment for the reasons. */
export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  backup: {
    chunker: { min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB },
    inlineMax: 16 * KiB,
    paging: DEFAULT_PAGING,
    compression: 'auto',
  },
  builds: {
    chunker: { min: 4 * KiB, avg: 16 * KiB, max: 64 * KiB },
    inlineMax: 4 * KiB,
    paging: SMALL_PAGING,
    compression: 'max',
  },
};

/** The preset called `name`; UsageError naming the choices for anything else. */
export function preset(name: string): Preset {
  if (!(PRESET_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(
      `unknown preset ${JSON.stringify(name)}: choose ${PRESET_NAMES.join(' or ')}`,
    );
  }
  return PRESETS[name as PresetName];
}

/** ConfigOptions of a preset, with `overrides` (explicit choices) taking precedence. */
export function presetOptions(name: string, overrides: ConfigOptions = {}): ConfigOptions {
  const p = preset(name);
  return {
    ...overrides,
    chunker: { ...p.chunker, ...overrides.chunker },
    inlineMax: overrides.inlineMax ?? p.inlineMax,
    paging: { ...(overrides.paging ?? p.paging) },
    compression: overrides.compression ?? p.compression,
  };
}
