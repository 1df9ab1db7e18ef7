// THREATS C.42: a peer that stops reading is cut off once the server's unsent data passes
// `maxBufferedBytes`, instead of the server queueing without bound; others are unaffected.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect, removeDir, startTest, testScope, type TestCoordinator } from './helpers.js';

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
    const barrier = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
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
    // Frames are handled in arrival order, a few per event-loop turn (TurnQueue): stay a slow
    // reader until the server has worked through what was sent, as a real stalled peer would. A
    // query on another connection, answered after them, marks that point.
    const answered = barrier.next((f) => f.type === 'inbox', 90_000);
    barrier.send({ type: 'inbox.get' });
    await answered;
    socket.resume();
    const { code } = await Promise.race([
      slow.closed,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('slow consumer was not cut off')), 15_000),
      ),
    ]);
    expect(code).toBe(1006);
    const other = await connect(t.handle.url, t.admin, 'admin', t.coordinatorKey);
    expect((await other.query({ type: 'inbox.get' }, 'inbox')).items).toEqual([]);
  });
});
