/**
 * The restore dialog: choose the target directory (default: a new directory beside
 * the current one) and what to do with files that already exist (restore's `overwrite`
 * modes: replace if different, always replace, skip existing), then watch a live
 * progress bar (bytes, files, rate, ETA). Esc cancels a running restore. The end shows
 * a summary with the warnings; a failure shows its error.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { Box, Text } from 'ink';
import { useState } from 'react';
import { shortId } from '../../core/ids.js';
import type { OverwriteMode } from '../../ops/restore.js';
import type { Repository } from '../../repo/repository.js';
import type { SnapshotRef } from '../../repo/snapshots.js';
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatLocalTime,
  formatRate,
  plural,
  printable,
} from '../format.js';
import { isBackspace, useKeys } from '../hooks/use-keys.js';
import { useLatestState } from '../hooks/use-latest-state.js';
import { type RestorePhase, type RestoreProgress, useRestore } from '../hooks/use-restore.js';
import type { Selection } from '../model/selection.js';
import { ProgressBar } from './ProgressBar.js';
import { Spinner } from './Spinner.js';
import { TextField } from './TextField.js';

/** Props of RestoreDialog. */
export interface RestoreDialogProps {
  repo: Repository;
  snapshot: SnapshotRef;
  selection: Selection;
  /** What is being restored, in words (`3 files, 12 KiB selected`, `docs/a.txt`). */
  what: string;
  /** Directory relative targets are resolved against. */
  cwd: string;
  width: number;
  active: boolean;
  onClose: () => void;
  onQuit: () => void;
}

/** A name for a new directory in `cwd`: `cairn-restore-<id>`, numbered if taken. */
export function defaultTarget(cwd: string, snapshotId: string): string {
  const base = `cairn-restore-${shortId(snapshotId)}`;
  let name = base;
  for (let n = 2; existsSync(resolve(cwd, name)) && n < 1000; n++) name = `${base}-${n}`;
  return `./${name}`;
}

/** The absolute directory for what was typed (`~/` is the home directory). */
export function resolveTarget(cwd: string, typed: string): string {
  const t = typed.trim();
  if (t === '~' || t.startsWith('~/')) return resolve(homedir(), t.slice(2));
  return resolve(cwd, t);
}

interface FormState {
  target: string;
  focus: 'target' | 'existing';
  overwrite: OverwriteMode;
  error?: string;
}

/** The choices for existing files, in the order ←/→ move through them. */
export const OVERWRITE_CHOICES: ReadonlyArray<[OverwriteMode, string]> = [
  ['changed', 'replace if different'],
  ['always', 'always replace'],
  ['never', 'skip existing'],
];

/** The dialog; it owns the keyboard while `active`. */
export function RestoreDialog(props: RestoreDialogProps) {
  const { repo, snapshot, selection, cwd, width, active, onClose, onQuit } = props;
  const [form, getForm, setForm] = useLatestState<FormState>(() => ({
    target: defaultTarget(cwd, snapshot.id),
    focus: 'target',
    overwrite: 'changed',
  }));
  const { phase, start, cancel } = useRestore(repo, snapshot);
  const [started, setStarted] = useState(false);

  useKeys((input, key) => {
    if (phase.kind === 'planning' || phase.kind === 'running') {
      if (key.escape) cancel();
      return;
    }
    if (phase.kind === 'done') {
      if (key.return || key.escape) onClose();
      else if (input === 'q') onQuit();
      return;
    }
    if (started) return;
    const f = getForm();
    if (key.escape) {
      onClose();
      return;
    }
    if (key.return) {
      if (f.target.trim() === '') {
        setForm({ ...f, error: 'type a target directory' });
        return;
      }
      setStarted(true);
      start({ target: resolveTarget(cwd, f.target), selection, overwrite: f.overwrite });
      return;
    }
    if (key.tab || key.upArrow || key.downArrow) {
      setForm({ ...f, focus: f.focus === 'target' ? 'existing' : 'target' });
      return;
    }
    if (f.focus === 'existing') {
      const step =
        key.leftArrow || input === 'h'
          ? -1
          : key.rightArrow || input === 'l' || input === ' '
            ? 1
            : 0;
      if (step !== 0) {
        const n = OVERWRITE_CHOICES.length;
        const at = OVERWRITE_CHOICES.findIndex(([mode]) => mode === f.overwrite);
        const next = OVERWRITE_CHOICES[(at + step + n) % n] as [OverwriteMode, string];
        setForm({ ...f, overwrite: next[0] });
      }
      return;
    }
    if (isBackspace(key)) setForm({ ...f, target: f.target.slice(0, -1), error: undefined });
    else if (key.ctrl && input === 'u') setForm({ ...f, target: '', error: undefined });
    else if (input && !key.ctrl && !key.meta && input >= ' ') {
      setForm({ ...f, target: f.target + input, error: undefined });
    }
  }, active);

  const inner = Math.max(20, Math.min(width, 96) - 4);
  const when = formatLocalTime(new Date(snapshot.snapshot.time));
  return (
    <Box
      flexDirection="column"
      borderStyle="round"
      borderColor="cyan"
      paddingX={1}
      width={Math.min(width, 96)}
    >
      <Text bold wrap="truncate-end">
        Restore from snapshot {shortId(snapshot.id)} ({when},{' '}
        {printable(snapshot.snapshot.hostname)})
      </Text>
      <Text wrap="truncate-end">What: {props.what}</Text>
      {phase.kind === 'idle' && !started ? (
        <TargetForm form={form} />
      ) : (
        <Status phase={phase} width={inner} />
      )}
    </Box>
  );
}

function TargetForm({ form }: { form: FormState }) {
  const choices = OVERWRITE_CHOICES.map(
    ([mode, label]) => `${form.overwrite === mode ? '(•)' : '( )'} ${label}`,
  ).join('  ');
  return (
    <Box flexDirection="column">
      <TextField label="Target: " value={form.target} focused={form.focus === 'target'} />
      <Text wrap="truncate-end">
        <Text bold={form.focus === 'existing'}>Existing files: </Text>
        <Text inverse={form.focus === 'existing'}>{choices}</Text>
      </Text>
      {form.error ? <Text color="red">{form.error}</Text> : null}
      <Text dimColor>Enter restore · Tab switch field · ←/→ change choice · Esc cancel</Text>
    </Box>
  );
}

function Status({ phase, width }: { phase: RestorePhase; width: number }) {
  if (phase.kind === 'idle') return <Spinner label="starting…" />;
  if (phase.kind === 'planning') {
    return (
      <Box flexDirection="column">
        <Spinner label="preparing: reading the selection…" />
        <Text dimColor>Esc cancel</Text>
      </Box>
    );
  }
  if (phase.kind === 'running') {
    return (
      <Box flexDirection="column">
        <ProgressBar done={phase.progress.bytes} total={phase.progress.totalBytes} width={width} />
        <Text wrap="truncate-end">{progressLine(phase.progress)}</Text>
        {phase.warnings > 0 ? (
          <Text color="yellow">{plural(phase.warnings, 'warning')} so far</Text>
        ) : null}
        <Text dimColor>Esc cancel</Text>
      </Box>
    );
  }
  return <Summary phase={phase} />;
}

/** `1.2 MiB / 3.4 MiB · 12 / 30 files · 2.1 MiB/s · ETA 0:02`. */
export function progressLine(p: RestoreProgress): string {
  const rate = p.elapsedMs > 0 ? (p.bytes * 1000) / p.elapsedMs : 0;
  const left = Math.max(0, p.totalBytes - p.bytes);
  const eta = rate > 0 ? formatDuration((left / rate) * 1000) : '-';
  return [
    `${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)}`,
    `${formatCount(p.files)} / ${plural(p.totalFiles, 'file')}`,
    formatRate(p.bytes, p.elapsedMs),
    `ETA ${eta}`,
  ].join(' · ');
}

function Summary({ phase }: { phase: Extract<RestorePhase, { kind: 'done' }> }) {
  const { progress: p, summary: s } = phase;
  const shown = phase.warnings.slice(0, 5);
  return (
    <Box flexDirection="column">
      {phase.outcome === 'ok' && s ? (
        <>
          <Text color={phase.warnings.length > 0 ? 'yellow' : 'green'} wrap="truncate-end">
            Restore finished: {plural(s.files, 'file')} ({formatBytes(s.bytes)}),{' '}
            {plural(s.dirs, 'directory', 'directories')} in {formatDuration(s.durationMs)} (
            {formatRate(s.bytes, s.durationMs)})
          </Text>
          {s.filesUnchanged > 0 ? (
            <Text>{plural(s.filesUnchanged, 'file')} already up to date, left as they were</Text>
          ) : null}
          {s.filesSkipped > 0 ? (
            <Text>Skipped {plural(s.filesSkipped, 'existing file')}</Text>
          ) : null}
          <Text wrap="truncate-start">Restored to {phase.target}</Text>
        </>
      ) : null}
      {phase.outcome === 'cancelled' ? (
        <Text color="yellow" wrap="wrap">
          Restore cancelled after {plural(p.files, 'file')} ({formatBytes(p.bytes)}); what was
          written stays in {phase.target}, and restoring there again finishes it
        </Text>
      ) : null}
      {phase.outcome === 'failed' ? (
        <Text color="red" wrap="wrap">
          Restore failed: {phase.error}
        </Text>
      ) : null}
      {phase.warnings.length > 0 ? (
        <>
          <Text color="yellow">
            {plural(phase.warnings.length, 'entry', 'entries')} could not be restored:
          </Text>
          {shown.map((w) => (
            <Text key={w.path} color="yellow" wrap="truncate-end">
              {'  '}
              {printable(w.path)}: {printable(w.message)}
            </Text>
          ))}
          {phase.warnings.length > shown.length ? (
            <Text color="yellow">
              {'  '}… and {formatCount(phase.warnings.length - shown.length)} more
            </Text>
          ) : null}
        </>
      ) : null}
      <Text dimColor>Enter close</Text>
    </Box>
  );
}
