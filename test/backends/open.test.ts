import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openLazyBackend } from '../../src/backends/lazy.js';
import { LocalBackend } from '../../src/backends/local.js';
import { MemoryBackend } from '../../src/backends/memory.js';
import { forgetMemoryBackends, openBackend } from '../../src/backends/open.js';
import { UsageError } from '../../src/core/errors.js';

const fixture = new URL('./fixtures/fake-backend.ts', import.meta.url).href;

describe('openBackend', () => {
  afterEach(() => forgetMemoryBackends());

  it('opens plain paths and file: URLs as LocalBackend', async () => {
    const dir = path.resolve('some', 'repo');
    const plain = await openBackend('some/repo');
    expect(plain).toBeInstanceOf(LocalBackend);
    expect(plain.location).toBe(dir);
    const url = await openBackend(pathToFileURL(dir).href);
    expect(url).toBeInstanceOf(LocalBackend);
    expect(url.location).toBe(dir);
    expect((await openBackend('/abs/path')).location).toBe(path.resolve('/abs/path'));
    // A one-letter "scheme" is a Windows drive, hence a path.
    expect(await openBackend('C:\\repo')).toBeInstanceOf(LocalBackend);
  });

  it('shares a named memory store and keeps bare memory: private', async () => {
    const a = await openBackend('memory:foo');
    const b = await openBackend('memory:foo');
    expect(a).toBe(b);
    expect(a.location).toBe('memory:foo');
    await a.put('k', new Uint8Array([1]));
    expect(await (await openBackend('memory:foo')).get('k')).toEqual(new Uint8Array([1]));
    expect(await openBackend('memory:bar')).not.toBe(a);
    const anon = await openBackend('memory:');
    expect(anon).toBeInstanceOf(MemoryBackend);
    expect(await openBackend('memory:')).not.toBe(anon);
    forgetMemoryBackends('foo');
    expect(await openBackend('memory:foo')).not.toBe(a);
  });

  it('rejects unknown schemes and empty locations with usage', async () => {
    await expect(openBackend('ftp://host/x')).rejects.toThrow(
      /unknown storage scheme "ftp:" in ftp:\/\/host\/x/,
    );
    await expect(openBackend('ftp://host/x')).rejects.toBeInstanceOf(UsageError);
    await expect(openBackend('')).rejects.toBeInstanceOf(UsageError);
  });
});

/** A module loaded by a computed specifier (the fixtures are not part of the build). */
const lazy = (specifier: string) => ({ name: specifier, load: () => import(specifier) });

describe('openLazyBackend', () => {
  it('opens the location with the module export’s fromUrl', async () => {
    const backend = await openLazyBackend(lazy(fixture), 'FakeBackend', 's3://b/p');
    expect(backend).toBeInstanceOf(MemoryBackend);
    expect(backend.location).toBe('s3://b/p');
  });

  it('rejects a module without the factory with usage', async () => {
    await expect(openLazyBackend(lazy(fixture), 'NotAFactory', 's3://b')).rejects.toThrow(
      /does not export NotAFactory with a fromUrl method/,
    );
    await expect(openLazyBackend(lazy(fixture), 'Missing', 's3://b')).rejects.toBeInstanceOf(
      UsageError,
    );
  });

  it('rejects a module that fails to load with usage', async () => {
    const missing = new URL('./fixtures/no-such-module.js', import.meta.url).href;
    await expect(openLazyBackend(lazy(missing), 'X', 's3://b')).rejects.toBeInstanceOf(UsageError);
  });
});
