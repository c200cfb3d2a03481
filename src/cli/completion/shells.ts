/** The shells `cairn completion` writes scripts for (main.ts declares them as its choices). */
export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;

export type CompletionShell = (typeof COMPLETION_SHELLS)[number];
