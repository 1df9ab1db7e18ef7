// One crypto-pool worker (crypto-pool.ts): runs tasks from crypto-pool-tasks.ts, one at a time, and
// answers {id, result} or {id, error}. Holds public data only (decoded packages, cached by hex).
import { parentPort } from 'node:worker_threads';
import { runCryptoTask, type CryptoTask } from './crypto-pool-tasks.js';

interface Request {
  readonly id: number;
  readonly task: CryptoTask;
}

const port = parentPort;
if (port === null) throw new Error('crypto-pool-worker runs in a worker thread only');

port.on('message', (req: Request) => {
  try {
    port.postMessage({ id: req.id, result: runCryptoTask(req.task) });
  } catch (e) {
    // Fixed text: the task's inputs are not echoed back.
    port.postMessage({ id: req.id, error: e instanceof Error ? e.name : 'Error' });
  }
});
port.postMessage({ ready: true });
