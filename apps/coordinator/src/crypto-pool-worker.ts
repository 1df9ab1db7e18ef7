// One crypto-pool worker (crypto-pool.ts): runs tasks from crypto-pool-tasks.ts, one at a time, and
// answers {id, result} or {id, error}. Holds public data only (decoded packages, cached by hex).
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
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
// Lower this thread's priority by the pool's increment (CryptoPoolOptions.nice). On Linux,
// setpriority(PRIO_PROCESS, 0) applies to the calling thread only, so the event loop keeps its own;
// elsewhere it would lower the whole process, so other systems leave it alone.
const niceBy = (workerData as { nice?: unknown } | null)?.nice;
let niceRefused: string | undefined;
if (process.platform === 'linux' && typeof niceBy === 'number' && niceBy > 0) {
  try {
    setPriority(Math.min(19, getPriority() + niceBy));
  } catch (e) {
    niceRefused = (e as NodeJS.ErrnoException).code ?? 'ERROR';
  }
}
port.postMessage({
  ready: true,
  nice: getPriority(),
  ...(niceRefused === undefined ? {} : { niceRefused }),
});
