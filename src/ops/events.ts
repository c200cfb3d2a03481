/**
 * Typed progress events. Operations never print: they call `onEvent` with these, and
 * the CLI turns them into a progress bar, NDJSON lines (`--json`), or nothing; the TUI
 * renders them too. Every event has a `type`; the payloads are plain JSON values.
 */

/** Running totals shared by backup and restore progress. */
export interface Progress {
  /** Files finished so far. */
  files: number;
  /** Bytes of file content finished so far. */
  bytes: number;
  /** Totals when known (a scan runs alongside the operation), for percent and ETA. */
  totalFiles?: number;
  totalBytes?: number;
  /** Milliseconds since the operation started. */
  elapsedMs: number;
}

/** A problem with one path that did not stop the operation. */
export interface WarningEvent {
  type: 'warning';
  path: string;
  message: string;
  /** Stable error code (`io`, `format`, `unsupported`...). */
  code: string;
}

/** Backup events. */
export type BackupEvent =
  | { type: 'start'; operation: 'backup'; paths: string[]; parent?: string }
  | { type: 'scan-done'; totalFiles: number; totalBytes: number }
  | ({ type: 'progress'; operation: 'backup'; bytesAdded: number } & Progress)
  | { type: 'file'; path: string; status: 'new' | 'changed' | 'unchanged'; size: number }
  /**
   * Something that leaves the snapshot whole: the stat cache could not be opened
   * (`stat-cache`), a file changed while it was read (`file-changed`, with its `path`).
   */
  | { type: 'notice'; code: string; message: string; path?: string }
  | WarningEvent;

/** Restore events. */
export type RestoreEvent =
  | {
      type: 'start';
      operation: 'restore';
      snapshot: string;
      target: string;
      totalFiles: number;
      totalBytes: number;
    }
  | ({ type: 'progress'; operation: 'restore' } & Progress)
  /** `action`: written, already matching (left untouched), or kept (overwrite: never). */
  | { type: 'file'; path: string; size: number; action: 'write' | 'unchanged' | 'skipped' }
  /** Removed because the snapshot does not have it (restore --delete). */
  | { type: 'delete'; path: string }
  /** `kept-excluded`: not deleted, since it holds what the exclude patterns match. */
  | { type: 'notice'; code: string; message: string; path?: string }
  | WarningEvent;

/**
 * What a check is doing: walking the snapshots' trees, listing the stored data blobs
 * and matching them with the referenced ones, or reading data blobs back (readData).
 */
export type CheckPhase = 'trees' | 'list' | 'read';

/** Check events. */
export type CheckEvent =
  | { type: 'start'; operation: 'check'; snapshots: number; readData: boolean }
  | {
      type: 'progress';
      operation: 'check';
      phase: CheckPhase;
      /** Tree nodes read so far. */
      trees: number;
      /** Referenced data blobs found so far (counted while listing). */
      blobs: number;
      /** Bytes of data blobs read back so far (readData). */
      bytes: number;
      /** Data blobs read back so far (readData). */
      blobsRead: number;
      /** Data blobs readData reads in all: known from the `read` phase on. */
      totalBlobs?: number;
      /**
       * Their bytes in all: known from the `read` phase on, except for a random sample
       * (`--read-data-subset P%`), where only `totalBlobs` is.
       */
      totalBytes?: number;
      elapsedMs: number;
    }
  | {
      type: 'error';
      code: string;
      object: string;
      message: string;
      snapshots: string[];
      paths: string[];
    };

/** Running totals of a sync (see SyncReport for their exact meaning). */
export interface SyncCounts {
  /** Data and tree blobs written to the destination (would be, in a dry run). */
  blobsSent: number;
  /** Bytes written to the destination: blobs and snapshot records, in their envelopes. */
  bytesSent: number;
  /** Blobs found already present in the destination. */
  blobsSkipped: number;
  /** File content bytes the destination already had (present chunks and directories). */
  bytesSkipped: number;
}

/** Sync events. */
export type SyncEvent =
  | WarningEvent
  | { type: 'notice'; code: string; message: string; path?: string }
  | {
      type: 'start';
      operation: 'sync';
      source: string;
      destination: string;
      /** Snapshots to copy, oldest first. */
      snapshots: string[];
      /** Selected snapshots the destination already has. */
      skipped: string[];
      dryRun: boolean;
    }
  | {
      type: 'snapshot';
      id: string;
      /** `copied`; `dry-run` when nothing was written. */
      status: 'copied' | 'dry-run';
      time: string;
      paths: string[];
    }
  | ({
      type: 'progress';
      operation: 'sync';
      /** Snapshots finished so far, and in all. */
      snapshotsDone: number;
      snapshotsTotal: number;
      /**
       * File content of the snapshots to copy dealt with so far (sent, or found in the
       * destination), and in all (their recorded sizes): for percent and ETA.
       */
      bytes: number;
      totalBytes: number;
      elapsedMs: number;
    } & SyncCounts);

/** Any operation's event. */
export type OperationEvent = BackupEvent | RestoreEvent | CheckEvent | SyncEvent;

/** The callback operations take. */
export type EventSink<E> = (event: E) => void;

/**
 * Calls `emit` at most every `intervalMs`, plus once more when flushed, so a
 * per-file loop can report progress without flooding the output.
 */
export class Throttle {
  private last = 0;
  constructor(private readonly intervalMs = 200) {}

  /** True when enough time has passed since the last `true`. */
  due(now = Date.now()): boolean {
    if (now - this.last < this.intervalMs) return false;
    this.last = now;
    return true;
  }
}
