/**
 * Output conventions shared by every command: `--json` prints exactly one JSON document on stdout
 * (progress goes to stderr); errors are `{ok:false,error:{code,message}}` in --json mode and
 * `conclave: CODE: message — what to do next` otherwise. Secrets are never printed.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { isClientError } from '@conclave/client';
import { refusedCharacterRule } from '@conclave/protocol';
import { CliError } from './errors.js';

export interface GlobalOptions {
  json?: boolean;
  home?: string;
  coordinator?: string;
}

export interface Ctx {
  readonly json: boolean;
  /** Progress for people: stderr, always (stdout is for the result). */
  progress(line: string): void;
  /** The result: one JSON document (--json) or human text. */
  result(doc: Record<string, unknown>, human: string): void;
}

/**
 * Text for a terminal. Strings from the coordinator, other members, bundles and logs reach the
 * screen, and not all of them are schema-checked (error messages, audit details): every character
 * the protocol refuses in displayed text (C0/C1 controls, DEL, bidi and other invisible format
 * characters, U+2028/U+2029, unpaired surrogates, noncharacters; see @conclave/protocol
 * `refusedCharacterRule`) becomes a visible `\u{1B}` escape, so no sender can drive the terminal
 * or make a line read as something else. `keepNewlines` keeps U+000A for multi-line blocks the
 * CLI composed itself; single fields should not keep them (a newline can forge a line).
 */
export function terminalSafe(text: string, options: { keepNewlines?: boolean } = {}): string {
  let out = '';
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    const keep =
      (cp === 0x0a && options.keepNewlines === true) || refusedCharacterRule(cp) === undefined;
    out += keep ? char : `\\u{${cp.toString(16).toUpperCase()}}`;
  }
  return out;
}

/**
 * `JSON.stringify` for stdout. It escapes C0 controls and unpaired surrogates but leaves C1
 * controls (U+009B is a CSI to some terminals), bidi controls and U+2028/U+2029 raw, and --json
 * output is often read on a terminal: those become `\uXXXX` escapes too. Lossless: the document
 * parses to the same value. They can only occur inside strings, where any character may be escaped.
 */
export function jsonForTerminal(value: unknown, space?: number): string {
  const json = JSON.stringify(value, null, space);
  let out = '';
  for (const char of json) {
    const cp = char.codePointAt(0)!;
    if (cp === 0x0a || refusedCharacterRule(cp) === undefined) out += char;
    else for (let i = 0; i < char.length; i++) out += `\\u${hex4(char.charCodeAt(i))}`;
  }
  return out;
}

const hex4 = (unit: number): string => unit.toString(16).padStart(4, '0');

/** Human output the CLI composed from fetched data (reports): stdout, escaped, lines kept. */
export function writeOut(text: string): void {
  process.stdout.write(terminalSafe(text, { keepNewlines: true }));
}

export function makeCtx(opts: GlobalOptions): Ctx {
  const json = opts.json === true;
  return {
    json,
    progress: (line) => process.stderr.write(`${terminalSafe(line, { keepNewlines: true })}\n`),
    result: (doc, human) => {
      if (json) process.stdout.write(`${jsonForTerminal({ ok: true, ...doc }, 2)}\n`);
      else process.stdout.write(`${terminalSafe(human, { keepNewlines: true })}\n`);
    },
  };
}

/** What to do next, per code (the plain-text error's tail; '' when the message says it). */
const NEXT: Record<string, string> = {
  HOME_NOT_INITIALIZED: 'run `conclave init --name NAME` or pass --home DIR',
  COORDINATOR_UNREACHABLE: 'check the URL and that `conclave coordinator start` is running',
  COORDINATOR_KEY_CHANGED:
    'verify the new fingerprints out of band before trusting this coordinator',
  PASSPHRASE_REQUIRED: 'run in a terminal, or set CONCLAVE_PASSPHRASE (automation only)',
  KEYSTORE_DECRYPT_FAILED: 'check the passphrase',
  SHARE_NOT_FOUND: 'run `conclave keygen GROUP` while the key ceremony is open',
  UNKNOWN_MEMBER: 'ask the admin to run `conclave member add NAME --key PUB`',
  NONCE_LEDGER_LOCKED:
    'stop the `conclave agent` of this home, or let the agent approve (--auto-approve)',
  ARTIFACT_MISMATCH: 'do not approve; tell the requester',
  STATEMENT_MISMATCH:
    'do not approve; the coordinator sent something other than what was requested',
  BAD_APPROVAL_SIGNATURE:
    'if this member sent it: update conclave here and approve again; if a package was refused: the coordinator named an approver who did not sign, so keep the log and tell your security lead',
  CONFIRMATION_REQUIRED:
    'run it in a terminal and answer y, or pass --yes once you have read the statement above',
  DKG_ABORTED:
    'if a member is named, fix or remove it; if one refused the start, the message says why (a share of an older epoch: repair it); then ask again (`conclave group create`, or the refresh, reshare or repair): a failed key ceremony saved nothing, and the old shares stay valid',
  SIGNATURE_UNAVAILABLE: 'run `conclave fetch` from the home of a member who signed',
  TIMEOUT: 'try again, or raise --timeout',
  INVALID_ARGUMENT: 'see --help',
  HOME_EXISTS: 'or run other commands with --home pointing at it',
  NO_COORDINATOR: 'ask your admin for the URL printed by `conclave coordinator start`',
  DKG_FAILED:
    'if a member is named, fix or remove it; then ask again (`conclave group create`, or the refresh, reshare or repair): a failed key ceremony saved nothing, and the old shares stay valid',
  CEREMONY_FAILED: 'see `conclave status ID` for approvals, sessions and culprits',
  CEREMONY_NOT_FOUND: 'check the id with `conclave inbox`',
  MEMBER_REVOKED: 'this key was revoked; ask the admin to register a new one',
  FORBIDDEN:
    'this needs another member (the message says who) or the admin: check the --admin-key file (it must be the admin key of this coordinator)',
  CONFIG_INVALID: 'repair config.json or create a new home with `conclave init`',
  KEYSTORE_LOOSE_PERMISSIONS: 'chmod 600 the file and try again',
  KEYSTORE_NOT_FOUND: 'run `conclave init` (identity) or `conclave keygen GROUP` (share)',
  NOT_APPROVED: 'nothing was sent; run approve again when ready',
  CONNECTION_CLOSED: 'check the coordinator and try again',
  REQUEST_INVALID: 'do not approve; the request is not signed by a member of the group',
  UNEXPECTED_MESSAGE: 'see `conclave status ID`: the ceremony may have moved on',
  CEREMONY_CLOSED: 'see `conclave status ID`',
  LOG_FORK_DETECTED: 'do not sign anything through this coordinator until it is explained',
  LOG_ROLLBACK: 'do not sign anything through this coordinator until it is explained',
  LOG_KEY_CHANGED: 'do not sign anything through this coordinator until it is explained',
  LOG_UNVERIFIABLE: 'run `conclave log witness` again; if it persists, tell your security lead',
  AUDIT_FAILED:
    'the bundle does not prove what it claims; keep it, and compare with `conclave audit export ID` from another member',
  LOG_VERIFY_FAILED: "keep the output; compare with another member's `conclave log verify`",
  KEYS_NOT_PINNED: 'see `conclave audit --help` (Keys)',
  WRONG_GROUP: 'check the group name with `conclave group show`',
  NO_SHARE: 'see `conclave group show` for your groups, or pass the --home that holds the share',
  DUPLICATE: 'it exists already; nothing was changed',
  GIT_FAILED: "check --repo and --commit (git's own message is above)",
  INVALID_MESSAGE: 'fix the value the message names and run the command again',
  FILE_NOT_FOUND: 'check the path (directories are not created for a file)',
  IS_A_DIRECTORY: '',
  FILE_EXISTS: '',
  DISK_FULL: 'free some space and run the command again',
  STORAGE_UNAVAILABLE:
    'the coordinator could not write to its database (a full disk?) and recorded nothing: tell its operator, then run the command again',
  RATE_LIMITED: 'wait a minute and run the command again',
  CONNECTION_REFUSED: 'check the URL and that `conclave coordinator start` is running',
  BAD_COORDINATOR_MESSAGE:
    'check --coordinator (is it a Conclave coordinator?) and tell its operator what it answered',
  NONCE_LEDGER_IO_ERROR:
    'check the disk of this home (space, permissions), then run the command again; nothing left that the ledger did not record',
  NONCE_LEDGER_CLOSED: 'run the command again',
  NONCE_LEDGER_CORRUPT:
    'keep the file as it is (it may have been tampered with) and tell your security lead',
  KEYSTORE_IO_ERROR: 'check the disk and the permissions of this home, then run the command again',
  KEYSTORE_MALFORMED:
    'the file is damaged or not a share: restore it from your backup (docs/runbooks/lost-share.md)',
  KEYSTORE_EXISTS: 'a share is already there: move it away first if you mean to replace it',
  AGGREGATE_INVALID: "do not use it; tell your security lead and the coordinator's operator",
  POLICY_INVALID: 'fix the file where the message says and run the command again',
  POLICY_QUORUM_NOT_MET: 'see `conclave status ID` for who approved, and `conclave policy show`',
  POLICY_REQUESTER_NOT_ALLOWED: 'see `conclave policy show` for who may request what',
  POLICY_ARTIFACT_NOT_ALLOWED: 'see `conclave policy show` for the artifact names it allows',
  POLICY_INCIDENT_REQUIRED:
    'a hotfix is requested with `--incident ID`: the requester must request it again with one',
  POLICY_UNVERIFIED: 'do not approve; see `conclave policy show`',
  // The message says what to do: no tail.
  KEYSTORE_UNSUPPORTED_VERSION: '',
  TAG_EXISTS: '',
  ARTIFACT_REQUIRED: '',
  ARTIFACT_TOO_LARGE: '',
  BUNDLE_MALFORMED: '',
  OPENPGP_CERT_UNSIGNED: '',
  UNKNOWN_PARTICIPANT: 'see `conclave group show GROUP` for who holds a share',
  // The message says what to do (coordinator.ts startError): no tail.
  PORT_IN_USE: '',
  DB_INVALID: '',
  COORDINATOR_FILES_EXIST: '',
  PERMISSION_DENIED: 'check the permissions of the path (or the port)',
  INTERRUPTED: 'run the command again when you are ready',
  // The message says what to do (files.ts, audit.ts): no tail.
  OUTPUT_EXISTS: '',
  OUTPUT_IS_SYMLINK: '',
  OUTPUT_COLLISION: '',
  INSECURE_TRANSPORT: '',
};

const DEFAULT_NEXT = 'run the command with --help, or `conclave status ID` for a ceremony';

/** Node's file-system errors by errno code: ours, and what it means for the path. */
const FILE_ERRORS: Record<string, [code: string, what: string]> = {
  ENOENT: ['FILE_NOT_FOUND', 'no such file or directory'],
  ENOTDIR: ['FILE_NOT_FOUND', 'a part of the path is not a directory'],
  EISDIR: ['IS_A_DIRECTORY', 'is a directory; give a file path'],
  EEXIST: ['FILE_EXISTS', 'exists already and is in the way; give a new path'],
  EACCES: ['PERMISSION_DENIED', 'permission denied'],
  EPERM: ['PERMISSION_DENIED', 'operation not permitted'],
  EROFS: ['PERMISSION_DENIED', 'read-only file system'],
  ENOSPC: ['DISK_FULL', 'no space left on the device'],
};

/**
 * A file the command could not read or write (an --out in a missing directory, a directory where
 * a file goes): a coded error naming the path, not Node's raw `ENOENT: … open '…'`.
 */
function fileError(e: unknown): { code: string; message: string } | undefined {
  if (!(e instanceof Error) || !('syscall' in e) || !('code' in e)) return undefined;
  const known = typeof e.code === 'string' ? FILE_ERRORS[e.code] : undefined;
  const path = 'path' in e && typeof e.path === 'string' ? e.path : undefined;
  if (known === undefined || path === undefined) return undefined;
  return { code: known[0], message: `${path}: ${known[1]}` };
}

export function toError(e: unknown): {
  code: string;
  message: string;
  details?: Record<string, unknown>;
} {
  if (e instanceof CliError) return { code: e.code, message: e.message };
  if (isClientError(e)) {
    const { code, message, ...details } = e.toJSON();
    return Object.keys(details).length > 0 ? { code, message, details } : { code, message };
  }
  const file = fileError(e);
  if (file !== undefined) return file;
  if (e instanceof Error && 'code' in e && typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code)) {
    return { code: e.code, message: e.message };
  }
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/**
 * `conclave: CODE: message — what to do next`. A message that already names the command to run
 * (a backticked `conclave …`, or "run `…`") is not followed by a second, more generic one.
 */
export function humanError(err: { code: string; message: string }): string {
  const head = `conclave: ${terminalSafe(err.code)}: ${terminalSafe(err.message)}`;
  const next = nextStep(err);
  return next === undefined ? head : `${head} — ${next}`;
}

/**
 * What to do next for this error, or undefined when its message says it already (it names a
 * command to run) or its code needs no tail. The same words in the human line and in `--json`.
 */
export function nextStep(err: { code: string; message: string }): string | undefined {
  const next = NEXT[err.code] ?? DEFAULT_NEXT;
  if (next === '' || /`conclave [^`]+`|\brun `[^`]+`/.test(err.message)) return undefined;
  return next;
}

export function printError(e: unknown, json: boolean): void {
  const err = toError(e);
  if (json) {
    process.stdout.write(
      `${jsonForTerminal({ ok: false, error: { ...err.details, code: err.code, message: err.message, ...nextField(err) } })}\n`,
    );
  } else {
    // The message may quote the coordinator or a bundle: escaped, newlines included.
    process.stderr.write(`${humanError(err)}\n`);
  }
}

/** `{ next }` for a JSON error document, when there is a next step to name. */
function nextField(err: { code: string; message: string }): { next?: string } {
  const next = nextStep(err);
  return next === undefined ? {} : { next };
}

/**
 * The passphrase: `CONCLAVE_PASSPHRASE` (for automation: CI jobs, agents, tests) or an interactive
 * prompt that does not echo. Never printed, never logged.
 */
export async function getPassphrase(prompt: string, confirm = false): Promise<string> {
  const env = process.env['CONCLAVE_PASSPHRASE'];
  if (env !== undefined && env !== '') return env;
  if (!process.stdin.isTTY) {
    throw new CliError(
      'PASSPHRASE_REQUIRED',
      'a passphrase is needed and there is no terminal to ask on',
    );
  }
  const first = await ask(prompt, true);
  if (first === '') throw new CliError('PASSPHRASE_REQUIRED', 'an empty passphrase is not allowed');
  if (confirm) {
    const second = await ask('Repeat passphrase: ', true);
    if (second !== first) throw new CliError('PASSPHRASE_REQUIRED', 'the passphrases differ');
  }
  return first;
}

/** Where `ask` reads and writes: the terminal (stdin, stderr), or a test's streams. */
export interface PromptIo {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
}

const TERMINAL: PromptIo = { input: process.stdin, output: process.stderr };

/**
 * Asks a question on the terminal (stderr), optionally without echo. Ctrl-C (readline reads the
 * terminal raw, so it arrives as a key, not as a signal) or the end of input before an answer is
 * INTERRUPTED, exit 130: without it the answer never came, and Node exited 13 with no word.
 */
export async function ask(
  question: string,
  muted = false,
  io: PromptIo = TERMINAL,
): Promise<string> {
  let mute = false;
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!mute) io.output.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: io.input, output, terminal: true });
  try {
    io.output.write(terminalSafe(question, { keepNewlines: true }));
    mute = muted;
    const answer = await new Promise<string>((resolve, reject) => {
      const settled = () => {
        rl.off('SIGINT', interrupted);
        rl.off('close', interrupted);
      };
      const interrupted = () => {
        settled();
        io.output.write('\n');
        reject(
          new CliError(
            'INTERRUPTED',
            `interrupted at the ${muted ? 'passphrase ' : ''}prompt`,
            130,
          ),
        );
      };
      rl.on('SIGINT', interrupted);
      rl.on('close', interrupted);
      rl.question('', (a) => {
        settled();
        resolve(a);
      });
    });
    if (muted) io.output.write('\n');
    return answer;
  } finally {
    rl.close();
  }
}

/** y/N on a terminal; CONFIRMATION_REQUIRED without one (use --yes). */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new CliError('CONFIRMATION_REQUIRED', 'there is no terminal to ask for the approval on');
  }
  const a = (await ask(`${question} [y/N] `)).trim().toLowerCase();
  return a === 'y' || a === 'yes';
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
