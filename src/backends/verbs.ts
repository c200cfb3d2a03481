/** The names of the Backend verbs, for wrappers that report or filter per verb. */

/** One of the five data verbs of a Backend. */
export type BackendVerb = 'get' | 'put' | 'stat' | 'list' | 'delete';

/** Every BackendVerb. */
export const BACKEND_VERBS: readonly BackendVerb[] = ['get', 'put', 'stat', 'list', 'delete'];
