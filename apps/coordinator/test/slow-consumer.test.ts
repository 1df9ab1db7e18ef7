// THREATS C.42: a peer that stops reading is cut off once the server's unsent data passes
// `maxBufferedBytes`, instead of the server queueing without bound; others are unaffected.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  metricsText,
  connect,
  removeDir,
  startTest,
  testScope,
  type TestCoordinator,
} from './helpers.js';

const { cleanups } = testScope();

describe('slow consumer', () => {
  it('terminates a connection that does not read its frames', { timeout: 150_000 }, async () => {
    const t: TestCoordinator = await startTest({
      limits: {
        maxBufferedBytes: 64 * 1024,
        maxMessagesPerSecond: 1_000_000,
        maxErrorsPerConnection: 1_000_000,
      },
    });
    cleanups.push(() => removeDir(t.dir));
    cleanups.push(() => t.close());
    const bystander = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const slow = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    const socket = (slow.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    // Each query is answered with an error frame; unread, they pile up in the kernel buffers and
    // then in the server's socket buffer.
    const frame = JSON.stringify({ type: 'ceremony.status.get', ceremonyId: 'c_does-not-exist' });
    for (let i = 0; i < 60_000 && slow.ws.readyState === slow.ws.OPEN; i++) {
      slow.ws.send(frame);
      if (i % 1000 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    // Frames are handled in arrival order, a few per event-loop turn (TurnQueue), and the server
    // stops reading a connection with maxQueuedFramesPerConnection frames waiting: stay a stalled
    // reader, as a real one would, until the server has cut the connection (its gauge drops to
    // the bystander alone), then look.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const text = await metricsText(t.handle);
      if (/^conclave_connections 1$/m.test(text)) break;
      if (Date.now() > deadline) throw new Error('slow consumer was not cut off');
      await new Promise((r) => setTimeout(r, 200));
    }
    socket.resume();
    // The server stopped reading the flood at least once (backpressure, not an unbounded queue).
    const paused = /^conclave_connection_pauses_total (\d+)$/m.exec(await metricsText(t.handle));
    expect(Number(paused?.[1])).toBeGreaterThanOrEqual(1);
    const { code } = await Promise.race([
      slow.closed,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('slow consumer was not cut off')), 15_000),
      ),
    ]);
    expect(code).toBe(1006);
    expect((await bystander.query({ type: 'inbox.get' }, 'inbox')).items).toEqual([]);
    const other = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    expect((await other.query({ type: 'inbox.get' }, 'inbox')).items).toEqual([]);
  });
});
