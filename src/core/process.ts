/** Facts about processes on this machine: this one's privilege, and whether others run. */
import { readFileSync } from 'node:fs';

/**
 * Running as root: restore sets ownership and privileged extended attributes
 * (`trusted.*`, `security.*`) too.
 */
export const isRoot = process.getuid?.() === 0;

/**
 * True if a process with this pid runs on this machine (possibly as another user). Used
 * to tell the leftovers of killed cairn processes (locks, temporary sets) from live ones.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True if the process that wrote a record at `since` (ms since the epoch) as `pid` still
 * runs: a process of that pid runs, and did not start after the record was written (a
 * pid reused after a reboot, or in a container's own pid namespace, is not the writer).
 * Where start times cannot be read (not Linux), a live pid counts.
 */
export function writerAlive(pid: number, since: number): boolean {
  if (!processAlive(pid)) return false;
  const started = processStartMs(pid);
  // A few seconds of slack: boot time is whole seconds, start times are clock ticks.
  return started === undefined || !Number.isFinite(since) || started <= since + 5000;
}

/** When process `pid` started (ms since the epoch), from /proc; undefined if unknown. */
export function processStartMs(pid: number): number | undefined {
  const boot = bootTimeMs();
  if (boot === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": the command may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]); // field 22, starttime, in clock ticks since boot
    // USER_HZ is 100 on every Linux architecture Node runs on.
    return Number.isFinite(ticks) ? boot + ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

let bootTime: number | null | undefined;

function bootTimeMs(): number | undefined {
  if (bootTime === undefined) {
    try {
      const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
      bootTime = m ? Number(m[1]) * 1000 : null;
    } catch {
      bootTime = null;
    }
  }
  return bootTime ?? undefined;
}
