/**
 * S3 storage classes (`-o s3.storage-class`, `S3BackendOverrides.storageClass`): which
 * names are taken, and how a server's refusal of one is told apart. No AWS SDK here, so
 * that the command line can check a name before it loads anything.
 */
import { UsageError } from '../core/errors.js';
import { s3ErrorName, s3Status } from './s3-errors.js';

/**
 * Whether a failed PUT that named a storage class was refused for it: AWS says
 * InvalidStorageClass; Ceph RGW a bare InvalidArgument (HTTP 400), which other causes
 * (a bucket policy's required header) give too, so that one is only possibly the class.
 */
export function storageClassRefusal(err: unknown): 'certain' | 'possible' | undefined {
  const name = s3ErrorName(err);
  if (name === 'InvalidStorageClass') return 'certain';
  if (name === 'InvalidArgument' && s3Status(err) === 400) return 'possible';
  return undefined;
}

/** Storage classes whose objects must be restored before they can be read. */
const ARCHIVE_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE']);

/**
 * Checks a storage class name (S3's, or a class an S3-compatible service defines: Ceph
 * RGW's placements name their own), throwing UsageError for a malformed or archive one.
 */
export function checkStorageClass(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new UsageError(
      `invalid S3 storage class ${JSON.stringify(name)}: expected a name such as STANDARD_IA`,
    );
  }
  if (ARCHIVE_CLASSES.has(name.toUpperCase())) {
    throw new UsageError(
      `S3 storage class ${name} cannot be used: its objects cannot be read without a restore ` +
        'request, and restore, check and backup read blobs back; use GLACIER_IR, ' +
        'STANDARD_IA or INTELLIGENT_TIERING, or a bucket lifecycle rule for archives',
    );
  }
  return name;
}
