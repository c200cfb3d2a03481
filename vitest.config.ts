import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// The CLI's record of encrypted repositories (src/repo/known-repos.ts) goes to a folder of
// this run, not the user's ~/.local/state; child processes inherit it. The config is
// loaded in vitest's main process, which outlives every test worker: it removes the folder.
const stateDir = mkdtempSync(join(tmpdir(), 'cairn-test-state-'));
process.on('exit', () => rmSync(stateDir, { recursive: true, force: true }));

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: on a 2-core machine, one file
    // at a time, though most of the suite waits on child processes, servers and disks.
    maxWorkers: 2,
    env: { CAIRN_STATE_DIR: stateDir },
  },
});
