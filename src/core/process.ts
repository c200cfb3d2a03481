/** Facts about other processes on this machine. */

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
