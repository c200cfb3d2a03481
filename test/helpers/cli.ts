/** Runs the CLI in-process with captured output. */
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';

class Capture extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    cb();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** The result of one CLI run. */
export interface CliRun {
  code: number;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
  /** stdout parsed as NDJSON (for --json runs). */
  json: Array<Record<string, unknown>>;
}

/**
 * Runs `cairn ...args` in this process. A Node warning emitted during the run (such as
 * MaxListenersExceededWarning, which a user would see on the terminal) fails the run.
 */
export async function cli(...args: string[]): Promise<CliRun> {
  const stdout = new Capture();
  const stderr = new Capture();
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  let code: number;
  try {
    code = await main(args, { stdout, stderr });
    // Warnings arrive on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  if (warnings.length > 0) {
    throw new Error(`cairn ${args.join(' ')} made Node warn:\n${warnings.join('\n')}`);
  }
  const text = stdout.text;
  let json: Array<Record<string, unknown>> = [];
  if (args.includes('--json')) {
    json = text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l));
  }
  return { code, stdout: text, stdoutBytes: stdout.bytes, stderr: stderr.text, json };
}
