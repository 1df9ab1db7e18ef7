/**
 * `conclave demo`: the real thing on one machine. A coordinator on a free loopback port with a
 * fresh SQLite file; n members, each with its own home directory and its own OS process
 * (`conclave agent`); the admin registers them and creates a t-of-n group; the agents run the DKG;
 * a release manager (`conclave request`, another process) asks for a signature on a sample
 * artifact; t agents approve (`--auto-approve`: standard releases), sign after checking the
 * statement, and the coordinator aggregates. The signature is then checked with Node's crypto
 * and openssl.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify as nodeVerify } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { KEY_FILES } from '@conclave/release';
import { checkFormats } from './tool-checks.js';
import { fileURLToPath } from 'node:url';
import { Connection, Home, parseAdminKeyText, resolveCoordinator } from '@conclave/client';
import {
  bytesToHex,
  hexToBytes,
  identityFromSecret,
  newCeremonyId,
  type SealedBody,
} from '@conclave/protocol';
import { loadCoordinator, type CoordinatorHandle } from './coordinator.js';
import { childEnv } from './child-env.js';
import { demoArtifactText, demoMembers, demoPassed } from './demo.js';
import { CliError } from './errors.js';
import type { Ctx } from './output.js';

export const CLI_BIN = fileURLToPath(new URL('../bin/conclave.mjs', import.meta.url));

export interface RealDemoOptions {
  readonly out: string;
  readonly threshold: number;
  readonly signers: number;
  readonly json: boolean;
}

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  stderr: string;
  stdout: string;
  readonly exited: Promise<number | null>;
}

function spawnCli(name: string, args: readonly string[], env: NodeJS.ProcessEnv, ctx: Ctx): Proc {
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p: Proc = {
    name,
    child,
    stderr: '',
    stdout: '',
    exited: new Promise((r) => child.on('close', (code) => r(code))),
  };
  let partial = '';
  child.stderr?.on('data', (d: Buffer) => {
    p.stderr += d.toString();
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines)
      if (l.trim() !== '') ctx.progress(`  ${l.startsWith('[') ? l : `[${name}] ${l}`}`);
  });
  child.stdout?.on('data', (d: Buffer) => (p.stdout += d.toString()));
  return p;
}

function waitForOutput(p: Proc, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (pattern.test(p.stderr)) {
        clearInterval(t);
        clearTimeout(limit);
        resolve();
      }
    }, 50);
    const limit = setTimeout(() => {
      clearInterval(t);
      reject(new CliError('TIMEOUT', `${p.name}: ${what} did not happen in ${timeoutMs / 1000} s`));
    }, timeoutMs);
    p.exited.then((code) => {
      if (!pattern.test(p.stderr)) {
        clearInterval(t);
        clearTimeout(limit);
        reject(new CliError('DEMO_FAILED', `${p.name} exited (${String(code)}) before: ${what}`));
      }
    }, reject);
  });
}

async function adminSend(
  handle: CoordinatorHandle,
  coordinatorKey: string,
  body: SealedBody,
): Promise<string> {
  const secret = parseAdminKeyText(readFileSync(handle.adminKeyPath, 'utf8'));
  const key = identityFromSecret(secret);
  secret.fill(0);
  const conn = new Connection({
    url: handle.url,
    member: 'admin',
    key,
    coordinatorKey: hexToBytes(coordinatorKey),
  });
  await conn.connect();
  const id = newCeremonyId();
  try {
    await conn.send(id, '0', body);
  } finally {
    await conn.close();
    key.secretKey.fill(0);
  }
  return id;
}

export async function runRealDemo(o: RealDemoOptions, ctx: Ctx): Promise<void> {
  const t = o.threshold;
  const names = demoMembers(o.signers, t);
  const n = names.length;
  const started = performance.now();
  const timings: Record<string, number> = {};
  const mark = (label: string, since: number) => {
    timings[label] = Math.round(performance.now() - since);
  };
  mkdirSync(resolve(o.out), { recursive: true });
  const out = mkdtempSync(join(resolve(o.out), 'run-'));
  const approvers = names.slice(0, t);
  const requester = names[n - 1]!;
  const group = 'release';
  // A passphrase for this run only, handed to the member processes as CONCLAVE_PASSPHRASE.
  const passphrase = randomBytes(18).toString('base64url');
  const procs: Proc[] = [];
  let handle: CoordinatorHandle | undefined;
  try {
    let since = performance.now();
    const coordinatorModule = await loadCoordinator();
    const { startCoordinator } = coordinatorModule;
    mkdirSync(join(out, 'coordinator'), { recursive: true });
    handle = await startCoordinator({
      dbPath: join(out, 'coordinator', 'conclave.db'),
      host: '127.0.0.1',
      port: 0,
    });
    ctx.progress(
      `Coordinator listening on ${handle.url} (database ${join(out, 'coordinator', 'conclave.db')})`,
    );
    mark('coordinator', since);

    since = performance.now();
    ctx.progress(
      `Members: ${names.join(', ')} — each with its own home under ${join(out, 'homes')}`,
    );
    const homes = new Map<string, Home>();
    for (const name of names) {
      const home = await Home.init(join(out, 'homes', name), name, passphrase);
      await resolveCoordinator(home, handle.url);
      homes.set(name, home);
    }
    mark('init', since);

    since = performance.now();
    for (const name of names) {
      const home = homes.get(name)!;
      await adminSend(handle, handle.coordinatorPublicKey, {
        type: 'admin.member.add',
        member: name,
        identityKey: bytesToHex(home.identityPublicKey),
        roles: ['lead'],
      });
    }
    ctx.progress(`Admin registered ${n} members`);

    for (const name of names) {
      const args = ['agent', '--home', homes.get(name)!.dir];
      if (approvers.includes(name)) args.push('--auto-approve');
      procs.push(spawnCli(name, args, { CONCLAVE_PASSPHRASE: passphrase }, ctx));
    }
    await Promise.all(procs.map((p) => waitForOutput(p, /agent ready/, 'agent ready')));
    ctx.progress(
      `${n} agents online, each its own process (pids ${procs.map((p) => p.child.pid).join(', ')})`,
    );
    mark('agents', since);

    since = performance.now();
    const keyCeremony = await adminSend(handle, handle.coordinatorPublicKey, {
      type: 'admin.group.create',
      group,
      threshold: t,
      members: names.map((m) => ({
        member: m,
        identityKey: bytesToHex(homes.get(m)!.identityPublicKey),
      })),
    });
    ctx.progress(`Admin created group ${group} (${t}-of-${n}); key ceremony ${keyCeremony}`);
    await Promise.all(
      procs.map((p) => waitForOutput(p, new RegExp(`share of ${group} saved`), 'share saved')),
    );
    ctx.progress(
      'Key ceremony complete: every member confirmed the same group key; shares saved encrypted',
    );
    mark('dkg', since);

    since = performance.now();
    const artifact = join(out, 'release-1.0.0.tar.gz');
    writeFileSync(artifact, demoArtifactText());
    ctx.progress(
      `Release request by ${requester}: ${artifact} (auto-approvers: ${approvers.join(', ')})`,
    );
    const request = spawnCli(
      `${requester}/request`,
      [
        'request',
        '--home',
        homes.get(requester)!.dir,
        '--group',
        group,
        '--artifact',
        artifact,
        '--version',
        '1.0.0',
        '--note',
        'conclave demo',
        '--timeout',
        '120',
        '--json',
      ],
      { CONCLAVE_PASSPHRASE: passphrase },
      ctx,
    );
    const code = await request.exited;
    if (code !== 0) {
      throw new CliError(
        'DEMO_FAILED',
        `the signing request failed: ${request.stdout.trim() || request.stderr.trim()}`,
      );
    }
    const signed = JSON.parse(request.stdout) as {
      ceremonyId: string;
      signers: string[];
      approvers: string[];
      groupPublicKey: string;
    };
    mark('sign', since);

    since = performance.now();
    const fetchDir = join(out, 'signature');
    const fetcher = signed.signers[0] ?? approvers[0]!;
    const fetched = spawnCli(
      `${fetcher}/fetch`,
      ['fetch', signed.ceremonyId, '--home', homes.get(fetcher)!.dir, '--out', fetchDir, '--json'],
      // fetch rebuilds the outputs from the share opened with the passphrase (its header alone is
      // not trusted), as the member would at a terminal.
      { CONCLAVE_PASSPHRASE: passphrase },
      ctx,
    );
    if ((await fetched.exited) !== 0) {
      throw new CliError(
        'DEMO_FAILED',
        `fetch failed: ${fetched.stdout.trim() || fetched.stderr.trim()}`,
      );
    }
    const fetchedDoc = JSON.parse(fetched.stdout) as {
      files: Record<string, string>;
      formats: Record<string, string[]>;
      keys: Record<string, string>;
    };
    const files = fetchedDoc.files;
    // Every format, checked natively and by the tool its users have (the artifact sits beside the
    // signatures, as a user downloading a release would have it).
    copyFileSync(artifact, join(fetchDir, basename(artifact)));
    const checks = checkFormats(fetchDir, basename(artifact), fetchedDoc.formats);
    for (const c of checks) {
      ctx.progress(
        `  ${c.format.padEnd(9)} ${basename(c.file).padEnd(32)} conclave verify: ${c.native ? 'OK' : `FAILED (${c.nativeDetail})`}; ${c.tool.name}: ${c.tool.ok === true ? 'OK' : c.tool.ok === 'skipped' ? `skipped (${c.tool.detail})` : `FAILED (${c.tool.detail})`}`,
      );
    }
    const formatsOk = checks.length > 0 && checks.every((c) => c.native && c.tool.ok !== false);
    const pem = readFileSync(files['publicKey']!, 'utf8');
    const message = readFileSync(files['message']!);
    const signature = readFileSync(files['signature']!);
    const statement = JSON.parse(readFileSync(files['statement']!, 'utf8')) as {
      subject: { name: string; digest: { sha256: string } }[];
      predicate: { approvers: { member: string }[] };
    };
    const artifactSha = createHash('sha256').update(readFileSync(artifact)).digest('hex');
    const subjectOk = statement.subject.some((s) => s.digest.sha256 === artifactSha);
    const nodeOk = nodeVerify(null, message, createPublicKey(pem), signature) && subjectOk;
    let opensslOk: boolean | 'not installed';
    try {
      execFileSync(
        'openssl',
        [
          'pkeyutl',
          '-verify',
          '-pubin',
          '-inkey',
          files['publicKey']!,
          '-rawin',
          '-in',
          files['message']!,
          '-sigfile',
          files['signature']!,
        ],
        { stdio: 'pipe', env: childEnv() },
      );
      opensslOk = true;
    } catch (e) {
      opensslOk = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : false;
    }
    mark('verify', since);
    // The ceremony transcript (every accepted envelope, both directions, in order) from the store.
    let transcript: string | undefined;
    const report = coordinatorModule.ceremonyReport(handle.store, signed.ceremonyId);
    if (report !== undefined) {
      transcript = join(out, 'signature', 'transcript.json');
      writeFileSync(transcript, `${JSON.stringify(report, null, 2)}\n`);
    }
    timings['total'] = Math.round(performance.now() - started);
    ctx.progress(
      `Verified with Node's crypto: ${nodeOk ? 'OK' : 'FAILED'}; with openssl: ${opensslOk === true ? 'OK' : String(opensslOk)}`,
    );
    const ok = demoPassed({ nodeCrypto: nodeOk, openssl: opensslOk, formats: formatsOk });
    const doc = {
      ok,
      mode: 'processes',
      groupPublicKey: signed.groupPublicKey,
      threshold: t,
      signers: signed.signers,
      approvers: statement.predicate.approvers.map((a) => a.member),
      members: names,
      requester,
      ceremonyId: signed.ceremonyId,
      keyCeremonyId: keyCeremony,
      coordinator: handle.url,
      artifact,
      statement: files['statement'],
      message: files['message'],
      publicKeys: {
        pem: files['publicKey'],
        ...(fetchedDoc.keys[KEY_FILES.ssh] === undefined
          ? {}
          : { ssh: fetchedDoc.keys[KEY_FILES.ssh] }),
        ...(fetchedDoc.keys[KEY_FILES['allowed-signers']] === undefined
          ? {}
          : { allowedSigners: fetchedDoc.keys[KEY_FILES['allowed-signers']] }),
        ...(fetchedDoc.keys[KEY_FILES.minisign] === undefined
          ? {}
          : { minisign: fetchedDoc.keys[KEY_FILES.minisign] }),
        ...(fetchedDoc.keys[KEY_FILES.signify] === undefined
          ? {}
          : { signify: fetchedDoc.keys[KEY_FILES.signify] }),
        ...(fetchedDoc.keys[KEY_FILES.openpgp] === undefined
          ? {}
          : { openpgp: fetchedDoc.keys[KEY_FILES.openpgp] }),
        ...(fetchedDoc.keys[KEY_FILES.jwk] === undefined
          ? {}
          : { jwk: fetchedDoc.keys[KEY_FILES.jwk] }),
      },
      signatures: {
        statement: files['signature'],
        ...Object.fromEntries(
          Object.entries(fetchedDoc.formats).map(([f, paths]) => [f, paths[0]]),
        ),
      },
      checks,
      verifyNote: files['readme'],
      ...(transcript === undefined ? {} : { transcript }),
      verify: `openssl pkeyutl -verify -pubin -inkey ${files['publicKey']} -rawin -in ${files['message']} -sigfile ${files['signature']}`,
      verified: { nodeCrypto: nodeOk, openssl: opensslOk },
      timingsMs: timings,
    };
    if (o.json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    else
      process.stdout.write(
        `\n${ok ? 'OK' : 'FAILED'}: ${t}-of-${n} signature on ${artifact}\n` +
          `  members (own processes): ${names.join(', ')}\n` +
          `  signed by: ${signed.signers.join(', ')}; approvers in the statement: ${doc.approvers.join(', ')}\n` +
          `  group key (Ed25519): ${signed.groupPublicKey}\n` +
          `  public key: ${files['publicKey']}\n  statement:  ${files['statement']} (signature ${files['signature']})\n` +
          `  formats:    ${Object.keys(fetchedDoc.formats).join(', ')} — every one in ${fetchDir}, verify commands in ${files['readme']}\n` +
          `  checked:    ${checks.filter((c) => c.tool.ok === true).length} with their own tools, ${checks.filter((c) => c.native).length} of ${checks.length} natively; skipped tools: ${[...new Set(checks.filter((c) => c.tool.ok === 'skipped').map((c) => c.tool.name))].join(', ') || 'none'}\n` +
          `  verify yourself: ${doc.verify}\n` +
          `  total ${timings['total']} ms (${JSON.stringify(timings)})\n`,
      );
    if (!ok) process.exitCode = 1;
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(
      procs.map((p) =>
        Promise.race([p.exited, new Promise((r) => setTimeout(r, 5000))]).then(() =>
          p.child.kill('SIGKILL'),
        ),
      ),
    );
    await handle?.close();
  }
}
