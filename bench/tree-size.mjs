// Apparent size and file count of a folder tree (what `du -sb` and `find -type f | wc -l`
// report), for repositories and restored trees.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** { bytes, files } of every regular file under `dir` (0 and 0 when it is missing). */
export async function treeSize(dir) {
  let bytes = 0;
  let files = 0;
  const walk = async (d) => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    const subdirs = [];
    const stats = [];
    for (const e of entries) {
      if (e.isDirectory()) subdirs.push(join(d, e.name));
      else if (e.isFile()) stats.push(lstat(join(d, e.name)));
    }
    for (const st of await Promise.all(stats)) {
      bytes += st.size;
      files++;
    }
    for (const s of subdirs) await walk(s);
  };
  await walk(dir);
  return { bytes, files };
}
