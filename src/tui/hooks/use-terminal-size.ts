/** The terminal's size, updated when it is resized (ink's stdout emits `resize`). */
import { useStdout } from 'ink';
import { useEffect, useState } from 'react';

/** Columns and rows of the terminal. */
export interface TerminalSize {
  columns: number;
  rows: number;
}

/** Terminal size used when the output stream does not report one. */
export const DEFAULT_SIZE: TerminalSize = { columns: 80, rows: 24 };

/** The current terminal size; re-renders the caller on resize. */
export function useTerminalSize(): TerminalSize {
  const { stdout } = useStdout();
  const [size, setSize] = useState(() => read(stdout));
  useEffect(() => {
    const onResize = () => setSize(read(stdout));
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}

function read(stdout: { columns?: number; rows?: number }): TerminalSize {
  return {
    columns: stdout.columns || DEFAULT_SIZE.columns,
    rows: stdout.rows || DEFAULT_SIZE.rows,
  };
}
