#!/usr/bin/env node
/** The `cairn` executable: runs the CLI and exits once stdout has drained. */
import { main } from './main.js';

main(process.argv.slice(2)).then((code) => {
  process.stdout.write('', () => process.exit(code));
});
