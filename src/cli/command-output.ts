/**
 * The standard output of a command, as the stream of a backup
 * (`cairn backup --stdin-from-command -- pg_dump mydb`). Unlike a pipe into
 * `cairn backup --stdin`, whose writer's failure cairn cannot see, a command that exits
 * with a status other than 0, or is killed, fails the stream: no snapshot is saved of
 * what may be half a dump. The command starts when the backup starts reading (once the
 * repository is open, and locked unless it is a dry run), keeps cairn's standard input
 * and error, and is sent SIGTERM, its output closed, when the backup stops reading
 * before it is done (Ctrl-C, a failed write).
 *
 * A plain iterator rather than an async generator: a generator's `return` waits for a
 * pending `next`, which waits for output a stalled command may never write; this one
 * stops the command at once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { errorCause } from '../core/errno.js';
import { CairnError, UsageError } from '../core/errors.js';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The output of `argv` (program and arguments), as it comes; see the module comment. */
export function commandOutput(argv: readonly string[]): AsyncIterable<Uint8Array> {
  const [program, ...args] = argv;
  if (program === undefined) throw new UsageError('no command to run');
  return {
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      let child: ChildProcess | undefined;
      let exited: Promise<Exit> | undefined;
      let output: AsyncIterator<Uint8Array> | undefined;
      let finished = false;
      const stop = () => {
        if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      };
      return {
        async next(): Promise<IteratorResult<Uint8Array>> {
          if (finished) return { done: true, value: undefined };
          if (!child) {
            child = spawn(program, args, { stdio: ['inherit', 'pipe', 'inherit'] });
            const started = child;
            exited = new Promise<Exit>((resolve, reject) => {
              started.once('error', reject);
              started.once('exit', (code, signal) => resolve({ code, signal }));
            });
            exited.catch(() => {}); // awaited at the end of the output
            output = started.stdout![Symbol.asyncIterator]();
          }
          const piece = await output!.next();
          if (!piece.done) return piece;
          finished = true;
          let status: Exit;
          try {
            status = await exited!;
          } catch (err) {
            throw new CairnError('io', `cannot run ${program}: ${errorCause(err)}`, { cause: err });
          }
          if (status.code !== 0) {
            const how = status.signal
              ? `was killed by ${status.signal}`
              : `exited with status ${status.code}`;
            throw new CairnError('io', `${program} ${how}: its output is not saved`);
          }
          return { done: true, value: undefined };
        },
        async return(): Promise<IteratorResult<Uint8Array>> {
          finished = true;
          stop();
          // Closed at once: a stream's `return` would wait for a pending read.
          child?.stdout?.destroy();
          return { done: true, value: undefined };
        },
      };
    },
  };
}
