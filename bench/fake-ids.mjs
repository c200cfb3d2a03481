// Made-up blob ids for simulating large repositories: deterministic, spread like real
// SHA-256 ids (so a sorted store sees them in random order), and cheap to produce.
import { createHash } from 'node:crypto';

/** `count` distinct 64-hex-digit ids. */
export function* fakeBlobIds(count, seed = 'fake') {
  for (let i = 0; i < count; i++) {
    yield createHash('sha256').update(`${seed}:${i}`).digest('hex');
  }
}
