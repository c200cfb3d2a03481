// Compiles native/xattr.c, cairn's extended-attribute calls, into dist/native/xattr.node
// with the C compiler and Node's own headers (Node-API: one build for every Node from 20
// on). Without a compiler or headers cairn still works, only without extended
// attributes (backup says so once): so a failure here is a warning, never a failed build.
// Run by `npm run build`; rebuilds only when the source or the compiler command changed.
//
//   node scripts/build-native.mjs [DIST]   (default dist)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = join(root, 'native', 'xattr.c');
const dist = resolve(root, process.argv[2] ?? 'dist');
const target = join(dist, 'native', 'xattr.node');
const stamp = `${target}.source`;

/** Folders that may hold node_api.h, most specific first. */
function headerDirs() {
  const dirs = [];
  const nodedir = process.env.npm_config_nodedir;
  if (nodedir) dirs.push(join(nodedir, 'include', 'node'));
  dirs.push(resolve(dirname(process.execPath), '..', 'include', 'node'));
  const home = process.env.HOME;
  if (home) {
    const version = process.versions.node;
    dirs.push(join(home, '.cache', 'node-gyp', version, 'include', 'node'));
  }
  dirs.push('/usr/include/node', '/usr/local/include/node');
  return dirs;
}

function warn(why) {
  console.warn(`cairn: native/xattr.c not built (${why}); extended attributes will not be kept`);
}

const include = headerDirs().find((d) => existsSync(join(d, 'node_api.h')));
if (!include) {
  warn(`no node_api.h in ${headerDirs().join(', ')}`);
  process.exit(0);
}
const compiler = process.env.CC || 'cc';
const flags = ['-O2', '-Wall', '-fPIC', '-shared', `-I${include}`];
if (process.platform === 'darwin') flags.push('-undefined', 'dynamic_lookup');
const key = createHash('sha256')
  .update(readFileSync(source))
  .update(JSON.stringify([compiler, flags, process.platform, process.arch]))
  .digest('hex');
/** True when `file` loads here (a module built on another system may not: another libc). */
function loads(file) {
  try {
    createRequire(import.meta.url)(file);
    return true;
  } catch {
    return false;
  }
}
const upToDate = existsSync(target) && existsSync(stamp) && readFileSync(stamp, 'utf8') === key;
if (upToDate && loads(target)) process.exit(0);

mkdirSync(dirname(target), { recursive: true });
// Built under a temporary name and renamed, so a running cairn never loads half a file.
const temp = `${target}.${process.pid}.tmp`;
try {
  execFileSync(compiler, [...flags, '-o', temp, source], { stdio: ['ignore', 'ignore', 'pipe'] });
  renameSync(temp, target);
  writeFileSync(stamp, key);
} catch (err) {
  rmSync(temp, { force: true });
  const detail = String(err.stderr ?? err.message)
    .trim()
    .split('\n')
    .slice(-3)
    .join(' ');
  warn(`${compiler} failed: ${detail}`);
}
