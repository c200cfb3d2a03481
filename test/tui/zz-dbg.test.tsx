import { cleanup, render } from 'ink-testing-library';
import { it } from 'vitest';
import { App } from '../../src/tui/app.js';
import { buildFixture } from './fixtures.js';
import { frame, press, waitFor, KEY } from './render.js';
it('dbg', async () => {
  const { repo } = await buildFixture();
  const app = render(<App repo={repo} cwd="/tmp" />);
  await waitFor(app, '3/3 snapshots');
  await press(app, 'j');
  await press(app, KEY.enter);
  await new Promise(r => setTimeout(r, 500));
  console.log(frame(app));
  cleanup();
});
