/**
 * Generated "build output" trees for version-to-version tests: v1, and v2 derived from
 * it with edits inside large files, a new file, a removed file and a renamed file.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pseudoRandomBytes } from './fs.js';

/** Writes version 1 of a build tree (about `scale` x 1.1 MB). */
export async function writeBuildV1(dir: string, scale = 1): Promise<void> {
  await mkdir(join(dir, 'assets'), { recursive: true });
  await mkdir(join(dir, 'lib'), { recursive: true });
  await writeFile(join(dir, 'app.bundle.js'), pseudoRandomBytes(600_000 * scale, 1));
  await writeFile(join(dir, 'vendor.bundle.js'), pseudoRandomBytes(300_000 * scale, 2));
  await writeFile(join(dir, 'assets', 'logo.bin'), pseudoRandomBytes(150_000 * scale, 3));
  await writeFile(join(dir, 'lib', 'old-module.js'), pseudoRandomBytes(50_000 * scale, 4));
  await writeFile(join(dir, 'lib', 'moved.js'), pseudoRandomBytes(40_000 * scale, 5));
  await writeFile(join(dir, 'VERSION'), '1.0.0\n');
  for (let i = 0; i < 20; i++)
    await writeFile(join(dir, 'lib', `small-${i}.js`), `export const v${i} = ${i};\n`);
}

/** Turns a copy of v1 in `dir` into v2. */
export async function mutateToV2(dir: string, scale = 1): Promise<void> {
  // edit a few spots inside the big bundle (insertions shift content: CDC must resync)
  const app = await readFile(join(dir, 'app.bundle.js'));
  const patch = pseudoRandomBytes(2000, 99);
  const edited = Buffer.concat([
    app.subarray(0, 100_000 * scale),
    patch,
    app.subarray(100_000 * scale, 400_000 * scale),
    patch,
    app.subarray(400_000 * scale),
  ]);
  await writeFile(join(dir, 'app.bundle.js'), edited);
  await writeFile(join(dir, 'assets', 'new-image.bin'), pseudoRandomBytes(80_000 * scale, 6));
  await rm(join(dir, 'lib', 'old-module.js'));
  await mkdir(join(dir, 'lib', 'sub'), { recursive: true });
  await rename(join(dir, 'lib', 'moved.js'), join(dir, 'lib', 'sub', 'moved.js'));
  await writeFile(join(dir, 'VERSION'), '2.0.0\n');
  await writeFile(join(dir, 'lib', 'small-3.js'), 'export const v3 = "three";\n');
}
