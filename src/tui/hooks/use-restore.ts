/**
 * Running a restore from the UI: turn the selection into an include list, then call
 * the same `restore` operation the CLI uses (with its `overwrite` mode for files that
 * already exist), turning its events into a live phase for the dialog. Esc aborts
 * through an AbortController; unmounting aborts too. Warnings are collected and errors
 * kept, so the dialog can show them.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { AbortedError, describeError, UsageError } from '../../core/errors.js';
import { Throttle, type WarningEvent } from '../../ops/events.js';
import { type OverwriteMode, type RestoreSummary, restore } from '../../ops/restore.js';
import type { Repository } from '../../repo/repository.js';
import type { SnapshotRef } from '../../repo/snapshots.js';
import { selectionIncludes } from '../model/restore-plan.js';
import type { Selection } from '../model/selection.js';

/** What to restore, where, and what to do with files already there. */
export interface RestoreRequest {
  /** Absolute target directory. */
  target: string;
  selection: Selection;
  /** Files already in the target: replace if different, always, or never (skip). */
  overwrite: OverwriteMode;
}

/** Running totals of a restore. */
export interface RestoreProgress {
  files: number;
  bytes: number;
  totalFiles: number;
  totalBytes: number;
  elapsedMs: number;
}

/** Where a restore is. */
export type RestorePhase =
  | { kind: 'idle' }
  | { kind: 'planning' }
  | { kind: 'running'; progress: RestoreProgress; warnings: number }
  | {
      kind: 'done';
      outcome: 'ok' | 'cancelled' | 'failed';
      target: string;
      progress: RestoreProgress;
      summary?: RestoreSummary;
      error?: string;
      warnings: WarningEvent[];
    };

const ZERO: RestoreProgress = { files: 0, bytes: 0, totalFiles: 0, totalBytes: 0, elapsedMs: 0 };

/** A restore of snapshot `ref` that can be started once and cancelled. */
export function useRestore(
  repo: Repository,
  ref: SnapshotRef,
): { phase: RestorePhase; start: (request: RestoreRequest) => void; cancel: () => void } {
  const [phase, setPhase] = useState<RestorePhase>({ kind: 'idle' });
  const controller = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => controller.current?.abort(new AbortedError('restore dialog closed')), []);

  const start = useCallback(
    (request: RestoreRequest) => {
      if (controller.current) return;
      const ctl = new AbortController();
      controller.current = ctl;
      const { signal } = ctl;
      const warnings: WarningEvent[] = [];
      let progress = ZERO;
      const warningRedraw = new Throttle(100);
      const finish = (outcome: 'ok' | 'cancelled' | 'failed', extra = {}) =>
        setPhase({ kind: 'done', outcome, target: request.target, progress, warnings, ...extra });
      setPhase({ kind: 'planning' });
      (async () => {
        try {
          const includes = await selectionIncludes(
            repo,
            ref.snapshot.tree,
            request.selection,
            signal,
          );
          // An empty include list would mean "everything" to restore.
          if (includes.length === 0) throw new UsageError('nothing is selected');
          setPhase({ kind: 'running', progress, warnings: 0 });
          const summary = await restore(repo, ref.id, ref.snapshot, {
            target: request.target,
            include: includes,
            overwrite: request.overwrite,
            signal,
            onEvent: (e) => {
              if (e.type === 'start') {
                progress = { ...progress, totalFiles: e.totalFiles, totalBytes: e.totalBytes };
              } else if (e.type === 'progress') {
                progress = {
                  files: e.files,
                  bytes: e.bytes,
                  totalFiles: e.totalFiles ?? progress.totalFiles,
                  totalBytes: e.totalBytes ?? progress.totalBytes,
                  elapsedMs: e.elapsedMs,
                };
              } else if (e.type === 'warning') {
                warnings.push(e);
                // Warnings can come by the thousand: redraw for them a few times a second.
                if (!warningRedraw.due()) return;
              }
              setPhase({ kind: 'running', progress, warnings: warnings.length });
            },
          });
          progress = {
            ...progress,
            files: summary.files,
            bytes: summary.bytes,
            elapsedMs: summary.durationMs,
          };
          finish('ok', { summary });
        } catch (err) {
          if (signal.aborted) finish('cancelled');
          else finish('failed', { error: describeError(err) });
        }
      })();
    },
    [repo, ref],
  );

  const cancel = useCallback(() => {
    controller.current?.abort(new AbortedError('restore cancelled'));
  }, []);

  return { phase, start, cancel };
}
