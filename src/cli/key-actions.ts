/** The actions of `cairn key`: main.ts declares them as its choices, key.ts runs them. */
export const KEY_ACTIONS = ['list', 'add', 'remove', 'passwd'] as const;

export type KeyAction = (typeof KEY_ACTIONS)[number];
