/**
 * `cairn version`: this program's version and what it runs on (Node, platform, the zstd
 * engine compression uses: the native one built at install time, or WebAssembly), for
 * bug reports and for checking which zstd an installation ended up with.
 */
import { VERSION } from '../../ops/program.js';
import { zstdEngine } from '../../repo/zstd.js';
import { type CommandContext, EXIT } from '../context.js';

export default async function version(ctx: CommandContext): Promise<number> {
  const zstd = await zstdEngine();
  const info = {
    cairn: VERSION,
    node: process.versions.node,
    platform: `${process.platform}/${process.arch}`,
    zstd: { engine: zstd.name, version: zstd.version },
  };
  ctx.out.event({ type: 'version', ...info });
  ctx.out.result(
    `cairn ${info.cairn} (node ${info.node}, ${info.platform}, zstd ${zstd.name}${zstd.version ? ` ${zstd.version}` : ''})`,
  );
  return EXIT.ok;
}
