/** Loading a file preview in the background (cancelled when the preview closes). */
import { useEffect, useState } from 'react';
import { describeError } from '../../core/errors.js';
import type { FileEntry } from '../../manifest/types.js';
import type { Repository } from '../../repo/repository.js';
import { loadPreview, type PreviewData } from '../model/preview.js';

/** A preview as it loads. */
export interface PreviewState {
  data?: PreviewData;
  error?: string;
}

/** The preview of `file`. */
export function usePreview(repo: Repository, file: FileEntry): PreviewState {
  const [state, setState] = useState<PreviewState>({});
  useEffect(() => {
    const controller = new AbortController();
    setState({});
    loadPreview(repo, file, undefined, controller.signal).then(
      (data) => !controller.signal.aborted && setState({ data }),
      (err) => !controller.signal.aborted && setState({ error: describeError(err) }),
    );
    return () => controller.abort();
  }, [repo, file]);
  return state;
}
