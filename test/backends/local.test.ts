import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalBackend, TEMP_PREFIX } from '../../src/backends/local.js';
import { BackendError } from '../../src/core/errors.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';

async function tempRoot(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'cairn-local-'));
}

describeBackendConformance('LocalBackend', async () => {
  const root = await tempRoot();
  return {
    backend: new LocalBackend(root),
    cleanup: () => fsp.rm(root, { recursive: true, force: true }),
  };
});

describeBackendConformance('LocalBackend without fsync', async () => {
  const root = await tempRoot();
  return {
    backend: new LocalBackend(root, { fsync: false }),
    cleanup: () => fsp.rm(root, { recursive: true, force: true }),
  };
});

/** The prototype of fs.promises FileHandle, to spy on its methods. */
async function fileHandlePrototype(): Promise<FileHandle> {
  const fh = await fsp.open(__filename, 'r');
  await fh.close();
  return Object.getPrototypeOf(fh) as FileHandle;
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

async function filesIn(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).sort();
}

describe('LocalBackend', () => {
  let root: string;
  let backend: LocalBackend;

  beforeEach(async () => {
    root = await tempRoot();
    backend = new LocalBackend(root);
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await fsp.chmod(root, 0o700).catch(() => {});
    await fsp.rm(root, { recursive: true, force: true });
  });

  it('stores key a/b/c as the file root/a/b/c and reports the absolute root', async () => {
    await backend.put('a/b/c', new Uint8Array([1, 2, 3]));
    expect(await fsp.readFile(path.join(root, 'a', 'b', 'c'))).toEqual(Buffer.from([1, 2, 3]));
    expect(backend.location).toBe(root);
    expect(new LocalBackend(path.relative(process.cwd(), root)).location).toBe(root);
    expect(await filesIn(path.join(root, 'a', 'b'))).toEqual(['c']);
  });

  it('names the key and the path when an object is missing', async () => {
    await expect(backend.get('no/such')).rejects.toMatchObject({
      code: 'not-found',
      what: 'no/such',
      message: expect.stringContaining(path.join(root, 'no', 'such')),
    });
  });

  it('hides a temporary file left by a crashed write', async () => {
    await backend.put('d/kept', new Uint8Array([7]));
    // What a writer that died after writing but before renaming leaves behind.
    const orphan = `${TEMP_PREFIX}0123456789abcdef`;
    await fsp.writeFile(path.join(root, 'd', orphan), 'partial');
    await fsp.writeFile(path.join(root, `${TEMP_PREFIX}fedcba9876543210`), 'partial');
    const listed = [];
    for await (const info of backend.list('')) listed.push(info.key);
    expect(listed).toEqual(['d/kept']);
    await expect(backend.get(`d/${orphan}`)).rejects.toMatchObject({ code: 'usage' });
    expect(await backend.get('d/kept')).toEqual(new Uint8Array([7]));
  });

  it('skips files whose names are not valid keys', async () => {
    await backend.put('x/ok', new Uint8Array(1));
    await fsp.writeFile(path.join(root, 'x', '.DS_Store'), '');
    await fsp.writeFile(path.join(root, 'x', 'UPPER'), '');
    const listed = [];
    for await (const info of backend.list('x/')) listed.push(info.key);
    expect(listed).toEqual(['x/ok']);
  });

  it('keeps the old object and no temporary file when a write fails midway', async () => {
    await backend.put('obj', new Uint8Array([1, 1, 1, 1]));
    const proto = await fileHandlePrototype();
    vi.spyOn(proto, 'writeFile').mockImplementationOnce(async function (
      this: FileHandle,
      data: unknown,
    ) {
      await this.write((data as Uint8Array).subarray(0, 2));
      throw errno('ENOSPC');
    });
    const err = await backend.put('obj', new Uint8Array([2, 2, 2, 2])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ retryable: false });
    expect((err as Error).message).toContain('no space left on device (ENOSPC)');
    expect((err as Error).message).toContain(path.join(root, 'obj'));
    expect(await backend.get('obj')).toEqual(new Uint8Array([1, 1, 1, 1]));
    expect(await filesIn(root)).toEqual(['obj']);
  });

  it('leaves nothing behind when aborted during the write', async () => {
    const controller = new AbortController();
    const proto = await fileHandlePrototype();
    const original = proto.writeFile;
    vi.spyOn(proto, 'writeFile').mockImplementationOnce(function (
      this: FileHandle,
      ...args: Parameters<FileHandle['writeFile']>
    ) {
      controller.abort();
      return original.apply(this, args);
    });
    await expect(
      backend.put('obj', new Uint8Array(10), { signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'aborted' });
    expect(await filesIn(root)).toEqual([]);
  });

  describe('fsync', () => {
    /** Records file syncs, renames and links in order. */
    async function record(): Promise<string[]> {
      const events: string[] = [];
      const proto = await fileHandlePrototype();
      const sync = proto.sync;
      vi.spyOn(proto, 'sync').mockImplementation(async function (this: FileHandle) {
        const st = await this.stat();
        events.push(st.isDirectory() ? 'sync-dir' : `sync-file(${st.size})`);
        return sync.call(this);
      });
      const { rename, link } = fsp;
      vi.spyOn(fsp, 'rename').mockImplementation(async (from, to) => {
        events.push(
          `rename(${path.basename(String(from)).slice(0, 5)}->${path.basename(String(to))})`,
        );
        return rename(from, to);
      });
      vi.spyOn(fsp, 'link').mockImplementation(async (from, to) => {
        events.push(
          `link(${path.basename(String(from)).slice(0, 5)}->${path.basename(String(to))})`,
        );
        return link(from, to);
      });
      return events;
    }

    it('syncs the file, renames it into place, then syncs the directory', async () => {
      await backend.put('dir/first', new Uint8Array(1));
      const events = await record();
      await backend.put('dir/obj', new Uint8Array(5));
      expect(events).toEqual(['sync-file(5)', `rename(${TEMP_PREFIX}->obj)`, 'sync-dir']);
    });

    it('syncs the file, links it, then syncs the directory for ifNotExists', async () => {
      await backend.put('dir/first', new Uint8Array(1));
      const events = await record();
      expect(await backend.put('dir/obj', new Uint8Array(3), { ifNotExists: true })).toBe(true);
      expect(events).toEqual(['sync-file(3)', `link(${TEMP_PREFIX}->obj)`, 'sync-dir']);
    });

    it('syncs the parents of new directories', async () => {
      const events = await record();
      await backend.put('new/deeper/obj', new Uint8Array(2));
      // root (for new/), new/ (for deeper/), then the file and its directory.
      expect(events).toEqual([
        'sync-dir',
        'sync-dir',
        'sync-file(2)',
        expect.any(String),
        'sync-dir',
      ]);
    });

    it('syncs the directory after a delete', async () => {
      await backend.put('dir/obj', new Uint8Array(1));
      const events = await record();
      await backend.delete('dir/obj');
      expect(events).toEqual(['sync-dir']);
    });

    it('does not sync at all when fsync is off', async () => {
      const fast = new LocalBackend(root, { fsync: false });
      const events = await record();
      await fast.put('a/b', new Uint8Array(4));
      await fast.put('a/c', new Uint8Array(4), { ifNotExists: true });
      await fast.delete('a/b');
      expect(events.filter((e) => e.startsWith('sync'))).toEqual([]);
    });
  });

  it('reads only the requested range from the file', async () => {
    const data = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    await backend.put('big', data);
    const proto = await fileHandlePrototype();
    const read = vi.spyOn(proto, 'read');
    expect(await backend.get('big', { offset: 1000, length: 100 })).toEqual(data.slice(1000, 1100));
    const requested = read.mock.calls.map((args) => (args as unknown[])[2] as number);
    expect(requested.reduce((a, b) => a + b, 0)).toBe(100);
  });

  it('falls back to check-then-rename without hard links and says so', async () => {
    vi.spyOn(fsp, 'link').mockRejectedValue(errno('EPERM'));
    expect(backend.capabilities.atomicCreate).toBe(true);
    expect(await backend.put('k', new Uint8Array([1]), { ifNotExists: true })).toBe(true);
    expect(await backend.put('k', new Uint8Array([2]), { ifNotExists: true })).toBe(false);
    expect(await backend.get('k')).toEqual(new Uint8Array([1]));
    expect(backend.capabilities.atomicCreate).toBe(false);
    expect(await filesIn(root)).toEqual(['k']);
  });

  it('explains a key that collides with a directory', async () => {
    await backend.put('a/b', new Uint8Array(1));
    const err = await backend.put('a', new Uint8Array(1)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'backend', retryable: false });
    expect((err as Error).message).toMatch(/put a failed at .*: the path is a directory/);
    await expect(backend.get('a')).rejects.toMatchObject({ code: 'not-found' });
    await expect(backend.stat('a')).rejects.toMatchObject({ code: 'not-found' });
    await backend.delete('a'); // absent as an object, so deleting succeeds
    expect(await backend.get('a/b')).toEqual(new Uint8Array(1));
  });

  it('removes stale temporary files with cleanupTemp', async () => {
    await backend.put('d/obj', new Uint8Array(1));
    const stale = path.join(root, 'd', `${TEMP_PREFIX}stale`);
    const fresh = path.join(root, 'd', `${TEMP_PREFIX}fresh`);
    await fsp.writeFile(stale, 'x');
    await fsp.writeFile(fresh, 'x');
    const hourAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await fsp.utimes(stale, hourAgo, hourAgo);
    expect(await backend.cleanupTemp()).toBe(1);
    expect(await filesIn(path.join(root, 'd'))).toEqual([`${TEMP_PREFIX}fresh`, 'obj']);
    expect(await backend.cleanupTemp(0)).toBe(1);
    expect(await filesIn(path.join(root, 'd'))).toEqual(['obj']);
    expect(await new LocalBackend(path.join(root, 'missing')).cleanupTemp()).toBe(0);
  });

  describe('permission errors', () => {
    /** Runs `fn` as an unprivileged user when we are root (root ignores file modes). */
    async function asUnprivileged<T>(fn: () => Promise<T>): Promise<T> {
      const isRoot = process.geteuid?.() === 0;
      if (isRoot) process.seteuid!(65534);
      try {
        return await fn();
      } finally {
        if (isRoot) process.seteuid!(0);
      }
    }

    it('reports a directory it may not write to clearly, as not retryable', async () => {
      await fsp.chmod(root, 0o755);
      await fsp.mkdir(path.join(root, 'locked'), { mode: 0o555 });
      const err = await asUnprivileged(() =>
        backend.put('locked/obj', new Uint8Array(1)).catch((e: unknown) => e),
      );
      expect(err).toBeInstanceOf(BackendError);
      expect(err).toMatchObject({ retryable: false });
      expect((err as Error).message).toBe(
        `put locked/obj failed at ${path.join(root, 'locked', 'obj')}: permission denied (EACCES)`,
      );
    });

    it('reports a file it may not read clearly, as not retryable', async () => {
      await fsp.chmod(root, 0o755);
      await backend.put('secret', new Uint8Array(1));
      await fsp.chmod(path.join(root, 'secret'), 0o000);
      const err = await asUnprivileged(() => backend.get('secret').catch((e: unknown) => e));
      expect(err).toMatchObject({ code: 'backend', retryable: false });
      expect((err as Error).message).toContain('get secret failed at');
      expect((err as Error).message).toContain('permission denied (EACCES)');
    });
  });
});
