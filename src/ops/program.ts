/** The program name and version recorded in snapshots. */
export const VERSION = '0.1.0';
export const PROGRAM = `cairn ${VERSION}`;
