/**
 * `conclave` command-line entry. Every command has --help, --json (one JSON document on stdout,
 * progress on stderr), --home DIR (default $CONCLAVE_HOME or ~/.conclave) and --coordinator URL.
 * Passphrases come from a prompt, or from CONCLAVE_PASSPHRASE for automation (CI, agents, tests).
 */
import { isIP } from 'node:net';
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { PROTOCOL_VERSION } from '@conclave/protocol';
import { KDF_COST_DEFAULT, KDF_COST_MAX, KDF_COST_MIN } from '@conclave/client';
import {
  checkCeremonyId,
  checkName,
  cmdAgent,
  cmdApprove,
  cmdCancel,
  cmdFetch,
  cmdGroupCreate,
  cmdInbox,
  cmdInit,
  cmdMemberAdd,
  cmdReject,
  cmdRequest,
} from './commands.js';
import { cmdCoordinatorStart, type CoordinatorStartOptions } from './coordinator.js';
import { registerPolicy } from './commands/policy.js';
import { cmdGovernanceStatus, registerRelease } from './commands/release.js';
import {
  cmdGroupRefresh,
  cmdGroupRepair,
  cmdGroupReshare,
  cmdGroupRotate,
  cmdGroupShow,
  cmdKeygen,
  cmdMemberRevoke,
  cmdTransitionSign,
  cmdVerifyTransition,
} from './commands/group.js';
import { runDemo } from './demo.js';
import { KEY_EXPORT_FORMATS, cmdKeyExport, cmdVerify } from './verify.js';
import { cmdVerifyBatch } from './batch.js';
import { cmdTag } from './tag.js';
import { runRealDemo } from './real-demo.js';
import { registerAudit } from './commands/audit.js';
import { CliError } from './errors.js';
import { makeCtx, printError, toError, type Ctx, type GlobalOptions } from './output.js';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
};

/** A TCP port: 0-65535 (0: any free port). */
const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port from 0 to 65535');
  return n;
};

/**
 * `--origin`: what members dial when it is not `http://HOST:PORT` (a TLS proxy in front): they
 * sign the origin they dialed, so it must be one exactly, scheme, host and port, nothing more.
 */
const originUrl = (v: string) => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError('expected a URL such as https://conclave.example.com');
  }
  if (
    (u.protocol !== 'http:' && u.protocol !== 'https:') ||
    u.username !== '' ||
    u.password !== '' ||
    u.pathname !== '/' ||
    u.search !== '' ||
    u.hash !== ''
  )
    throw new InvalidArgumentError(
      'expected an origin, http(s)://host[:port], with no path, query or credentials',
    );
  return u.origin;
};

/** Comma-separated IP addresses (`--trusted-proxy`). */
const ipAddresses = (v: string) => {
  const list = v
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const bad = list.find((a) => isIP(a) === 0);
  if (list.length === 0 || bad !== undefined)
    throw new InvalidArgumentError(
      `expected comma-separated IP addresses${bad === undefined ? '' : `; ${JSON.stringify(bad)} is not one`}`,
    );
  return list;
};

/** A wait in seconds: a whole number of at least 1 (0 or less would give up before starting). */
const seconds = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError('expected whole seconds, at least 1');
  return n;
};

/** scrypt's cost as log2 N, within the keystore's bounds (its floor is 64 MiB, 1 GiB the most). */
const kdfCost = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < KDF_COST_MIN || n > KDF_COST_MAX)
    throw new InvalidArgumentError(
      `expected a whole number from ${KDF_COST_MIN} to ${KDF_COST_MAX}`,
    );
  return n;
};

/** A group name argument, checked before anything is sent (commands.ts checkName). */
const groupArg = (name: string | undefined): string => {
  checkName('group', name ?? '');
  return name ?? '';
};

/** A member name argument, checked before anything is sent. */
const memberArg = (name: string | undefined): string => {
  checkName('member', name ?? '');
  return name ?? '';
};

/** A ceremony id argument, checked before anything is sent (commands.ts checkCeremonyId). */
const ceremonyArg = (id: string | undefined): string => {
  checkCeremonyId(id ?? '');
  return id ?? '';
};

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Adds the options every command has. */
function common(cmd: Command): Command {
  return cmd
    .option('--json', 'print exactly one JSON document on stdout (progress goes to stderr)')
    .option('--home <dir>', 'member home directory (default: $CONCLAVE_HOME or ~/.conclave)')
    .option(
      '--coordinator <url>',
      'coordinator URL, e.g. http://127.0.0.1:7420 (default: the pinned one)',
    );
}

/** Positional arguments as given; an optional one that was left out stays undefined. */
type Action<O> = (opts: O, ctx: Ctx, ...positional: (string | undefined)[]) => Promise<void>;

/** Commander calls actions with (positional..., opts, command). */
export function run<O extends GlobalOptions>(fn: Action<O>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.opts<O>();
    const positional = args.slice(0, -2).map((a) => (a === undefined ? undefined : String(a)));
    await fn(opts, makeCtx(opts), ...positional);
  };
}

/** Commands that open this member's identity (or share) say how the passphrase is given. */
const PASSPHRASE_HELP =
  '\nPassphrase: asked on the terminal; for automation (CI, agents, tests) set CONCLAVE_PASSPHRASE.\n';
/** The same for commands that need it only when run as a member, not with --admin-key. */
const MEMBER_PASSPHRASE_HELP =
  '\nPassphrase (as a member, not with --admin-key): asked on the terminal; for automation set CONCLAVE_PASSPHRASE.\n';

/** This CLI's version (apps/cli/package.json; a test keeps the two equal). */
export const CONCLAVE_VERSION = '0.1.0';

export function buildProgram(): Command {
  const program = new Command('conclave')
    .description(
      'Threshold signing for software releases: a quorum of team leads signs, ordinary tools verify.',
    )
    .version(
      `conclave ${CONCLAVE_VERSION} (protocol v${PROTOCOL_VERSION})`,
      '-V, --version',
      'print the version of conclave and of its wire protocol',
    )
    // `conclave --version` only before a command: `request --version 1.2.3` is the release's.
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');

  common(
    program
      .command('init')
      .description("create this member's identity key in --home (and pin a coordinator)")
      .requiredOption('--name <name>', 'member name: 1-32 of [a-z0-9_-]')
      .option(
        '--kdf-cost <log2N>',
        `how hard your passphrase is stretched for every key file this home writes: scrypt ` +
          `N = 2^log2N (r 8, p 1), from ${KDF_COST_MIN} (64 MiB, about half a second) to ` +
          `${KDF_COST_MAX} (1 GiB, about ten seconds); default ${KDF_COST_DEFAULT} (128 MiB)`,
        kdfCost,
      )
      .addHelpText('after', PASSPHRASE_HELP),
  ).action(run<GlobalOptions & { name: string; kdfCost?: number }>((o, ctx) => cmdInit(o, ctx)));

  const coordinator = program.command('coordinator').description('run the coordinator');
  common(
    coordinator
      .command('start')
      .description('start the coordinator (WebSocket + HTTP); runs until SIGINT/SIGTERM')
      .option('--db <file>', 'SQLite database file', 'conclave.db')
      .option('--host <host>', 'address to listen on', '127.0.0.1')
      .option('--port <port>', 'port to listen on (0: any free port)', port, 7420)
      .option(
        '--session-timeout <seconds>',
        'how long a signing session waits for shares before excluding silent signers',
        seconds,
      )
      .option(
        '--origin <url>',
        'the URL members dial, when not http://HOST:PORT (behind a TLS proxy: https://conclave.example.com); they sign it, so it must match',
        originUrl,
      )
      .option(
        '--trusted-proxy <addresses>',
        "comma-separated addresses of reverse proxies in front: their X-Forwarded-For names the client for the per-address limits (without it, every member behind the proxy shares the proxy's)",
        ipAddresses,
      ),
  ).action(run<CoordinatorStartOptions>((o, ctx) => cmdCoordinatorStart(o, ctx)));

  const member = program.command('member').description('manage the member registry (admin)');
  common(
    member
      .command('add <name>')
      .description('register a member identity key (admin)')
      .requiredOption('--key <pub>', "the member's identity public key (hex, from `conclave init`)")
      .option('--roles <roles>', 'comma-separated roles, e.g. lead,security')
      .requiredOption('--admin-key <file>', 'the admin key file printed by `coordinator start`'),
  ).action(
    run<GlobalOptions & { key: string; roles?: string; adminKey: string }>((o, ctx, name) =>
      cmdMemberAdd(name ?? '', o, ctx),
    ),
  );

  common(
    member
      .command('revoke <name>')
      .description('revoke a member: the coordinator refuses its key from now on (admin)')
      .requiredOption('--reason <text>', 'why (recorded)')
      .requiredOption('--admin-key <file>', 'the admin key file printed by `coordinator start`'),
  ).action(
    run<GlobalOptions & { reason: string; adminKey: string }>((o, ctx, name) =>
      cmdMemberRevoke(memberArg(name), o, ctx),
    ),
  );

  const group = program.command('group').description('manage signing groups (admin)');
  common(
    group
      .command('create <name>')
      .description('create a t-of-n group and open its key ceremony (admin)')
      .requiredOption('--threshold <t>', 'approvals needed', int)
      .requiredOption('--members <list>', 'comma-separated member names (or name=PUB)')
      .requiredOption('--admin-key <file>', 'the admin key file printed by `coordinator start`'),
  ).action(
    run<GlobalOptions & { threshold: number; members: string; adminKey: string }>((o, ctx, name) =>
      cmdGroupCreate(groupArg(name), o, ctx),
    ),
  );

  registerLifecycle(group);

  common(
    program
      .command('keygen <group>')
      .description(
        'take part in the key ceremony of GROUP (DKG, refresh, reshare or repair); the share is saved encrypted',
      )
      .option('--timeout <seconds>', 'give up after this long', seconds, 300)
      .addHelpText('after', PASSPHRASE_HELP),
  ).action(
    run<GlobalOptions & { timeout: number }>((o, ctx, id) => cmdKeygen(groupArg(id), o, ctx)),
  );

  common(
    program
      .command('request')
      .description('ask the group to sign a release; waits for the signature unless --no-wait')
      .requiredOption('--group <group>', 'signing group')
      .option('--artifact <file>', 'artifact file (repeat for several)', collect, [])
      .option(
        '--batch <dir>',
        'sign every file in DIR as one batch: a manifest (Merkle root in the statement) is written and signed, and each file gets an inclusion proof (fetch --manifest)',
      )
      .option('--manifest-out <file>', 'with --batch: where to write the manifest')
      .option('--sbom <file>', 'an SBOM the signed statement binds by SHA-256 (approvers see it)')
      .option('--provenance <file>', 'build provenance the signed statement binds by SHA-256')
      .requiredOption('--version <version>', 'release version')
      .addOption(
        new Option('--class <class>', 'release class')
          .choices(['standard', 'hotfix'])
          .default('standard'),
      )
      .option('--note <text>', 'a note for the approvers')
      .option(
        '--formats <list>',
        'signature formats, comma-separated; raw and openpgp sign the artifact bytes, so the artifacts are uploaded to the coordinator and every signer checks them (git: use conclave tag)',
        'raw,sshsig,minisign,signify,openpgp,dsse,sigstore,jws',
      )
      .option('--no-wait', 'return once the request is recorded')
      .option('--timeout <seconds>', 'give up waiting after this long', seconds, 600)
      .addHelpText('after', PASSPHRASE_HELP),
  ).action(
    run<Parameters<typeof cmdRequest>[0]>((o, ctx) =>
      cmdRequest({ ...o, group: groupArg(o.group) }, ctx),
    ),
  );

  common(
    program
      .command('inbox')
      .description('ceremonies that concern this member')
      .addHelpText('after', PASSPHRASE_HELP),
  ).action(run<GlobalOptions>((o, ctx) => cmdInbox(o, ctx)));

  common(
    program
      .command('status [id]')
      .description(
        "one ceremony's state, approvals, sessions, culprits and what its policy waits for; without ID: unratified hotfixes and each group's verified policy",
      )
      .addHelpText('after', PASSPHRASE_HELP),
  ).action(
    run<GlobalOptions>((o, ctx, id) =>
      cmdGovernanceStatus(id === undefined ? undefined : ceremonyArg(id), o, ctx),
    ),
  );

  common(
    program
      .command('approve <id>')
      .description('review a request, approve it and stay online to sign')
      .option(
        '--artifact <file>',
        'check this local file against the request (repeatable)',
        collect,
      )
      .option('--yes', 'approve without asking (after all checks pass)')
      .option('--timeout <seconds>', 'give up waiting after this long', seconds, 600)
      .addHelpText('after', PASSPHRASE_HELP),
  ).action(
    run<GlobalOptions & { artifact?: string[]; yes?: boolean; timeout: number }>((o, ctx, id) =>
      cmdApprove(ceremonyArg(id), o, ctx),
    ),
  );

  common(
    program
      .command('reject <id>')
      .description('decline a request')
      .requiredOption('--reason <text>', 'why')
      .addHelpText('after', PASSPHRASE_HELP),
  ).action(
    run<GlobalOptions & { reason: string }>((o, ctx, id) => cmdReject(ceremonyArg(id), o, ctx)),
  );

  common(
    program
      .command('cancel <id>')
      .description(
        'withdraw an open ceremony: a signing request by its requester (or the admin), a key ceremony by the admin',
      )
      .requiredOption('--reason <text>', 'why (every member sees it)')
      .option('--admin-key <file>', 'cancel as the admin (any signing or key ceremony)')
      .addHelpText('after', MEMBER_PASSPHRASE_HELP),
  ).action(
    run<GlobalOptions & { reason: string; adminKey?: string }>((o, ctx, id) =>
      cmdCancel(id ?? '', o, ctx),
    ),
  );

  common(
    program
      .command('agent')
      .description('stay online: join key ceremonies, finish round 2 for approvals')
      .option(
        '--auto-approve [classes]',
        'approve valid requests of these release classes without asking (automation only; comma-separated: standard, hotfix, policy, revocation). Bare: standard only — hotfix, policy and revocation ceremonies need a person unless listed',
      )
      .addHelpText('after', PASSPHRASE_HELP),
  ).action(run<GlobalOptions & { autoApprove?: boolean | string }>((o, ctx) => cmdAgent(o, ctx)));

  common(
    program
      .command('fetch <id>')
      .description(
        'write every requested signature format, the public key files and VERIFY.md (the exact verify commands) into DIR',
      )
      .requiredOption('--out <dir>', 'output directory')
      .option('--manifest <file>', 'for a batch: the manifest file; writes every <name>.proof.json')
      .option(
        '--force',
        'replace files already in DIR (an earlier fetch); without it an existing file is refused (OUTPUT_EXISTS), a symlink always',
      )
      .addHelpText(
        'after',
        `\nThe statement is rebuilt from your share, opened with your passphrase (its file header alone is not authenticated), offline when this home recorded the outcome.${PASSPHRASE_HELP}`,
      ),
  ).action(
    run<GlobalOptions & { out: string; manifest?: string; force?: boolean }>((o, ctx, id) =>
      cmdFetch(ceremonyArg(id), o, ctx),
    ),
  );

  common(
    program
      .command('verify <artifact>')
      .description(
        'verify a signature of ARTIFACT in any format Conclave writes (detected), without external tools; exit 0 verified, 1 not verified (reason printed), 2 bad usage or unreadable input',
      )
      .requiredOption(
        '--key <file>',
        'public key file (PEM, SSH, allowed_signers, minisign, signify, OpenPGP, JWK, TUF)',
      )
      .option('--sig <file>', 'signature file')
      .option('--namespace <ns>', 'SSHSIG namespace to require (default file)')
      .option('--batch', 'ARTIFACT is one of a signed batch: check --proof against --statement')
      .option('--proof <file>', "with --batch: the artifact's <name>.proof.json")
      .option(
        '--statement <file>',
        'the DSSE statement (release.intoto.json): with --batch, or for --min-version/--revocations when the signature format carries no statement',
      )
      .option(
        '--revocations <file>',
        'refuse a release revoked in this list (conclave release revocations)',
      )
      .option('--min-version <version>', 'refuse a release older than this version (no downgrades)')
      .option(
        '--at <time>',
        "verify as of this ISO-8601 time instead of now (e.g. 2025-06-01T12:00:00Z): key validity windows, signature creation and expiry, the statement's validUntil",
      ),
  ).action(
    run<
      GlobalOptions & {
        key: string;
        sig?: string;
        namespace?: string;
        batch?: boolean;
        proof?: string;
        statement?: string;
        revocations?: string;
        minVersion?: string;
        at?: string;
      }
    >((o, ctx, artifact) => {
      if (o.batch === true) {
        if (o.at !== undefined)
          throw new CliError('INVALID_ARGUMENT', '--at is not supported with --batch yet', 2);
        return cmdVerifyBatch(artifact ?? '', o, ctx);
      }
      if (o.sig === undefined) {
        throw new CliError(
          'INVALID_ARGUMENT',
          'give --sig FILE (or --batch with --proof and --statement)',
          2,
        );
      }
      return cmdVerify(artifact ?? '', { ...o, sig: o.sig }, ctx);
    }),
  );

  common(
    program
      .command('tag <tag>')
      .description(
        'make a quorum-signed annotated git tag (SSHSIG, namespace git) on a commit; git verify-tag checks it with the group allowed_signers',
      )
      .requiredOption('--group <group>', 'signing group')
      .option('--commit <rev>', 'what the tag points at', 'HEAD')
      .option('--message <text>', 'tag message (default "Release TAG")')
      .option('--repo <dir>', 'the git repository', '.')
      .option('--tagger <who>', '"Name <email>" (default: git config user.name / user.email)')
      .option('--force', 'replace an existing tag of that name')
      .option('--timeout <seconds>', 'give up waiting after this long', seconds, 600)
      .addHelpText('after', PASSPHRASE_HELP),
  ).action(
    run<
      GlobalOptions & {
        group: string;
        commit: string;
        message?: string;
        repo: string;
        tagger?: string;
        force?: boolean;
        timeout: number;
      }
    >((o, ctx, tag) => cmdTag(tag ?? '', { ...o, group: groupArg(o.group) }, ctx)),
  );

  const key = program.command('key').description("the group public key in verifiers' formats");
  common(
    key
      .command('export <group>')
      .description('print (or write with --out) the group public key in a verifier format')
      .requiredOption('--format <format>', KEY_EXPORT_FORMATS.join('|'))
      .option('--out <file>', 'write the key file here instead of printing it')
      .option('--principal <name>', 'allowed-signers principal (default <group>@conclave)')
      .addHelpText(
        'after',
        `\nThe key is read from your share, opened with your passphrase (its file header alone is not authenticated).${PASSPHRASE_HELP}`,
      ),
  ).action(
    run<GlobalOptions & { format: string; out?: string; principal?: string }>((o, ctx, group) =>
      cmdKeyExport(groupArg(group), o, ctx),
    ),
  );

  common(
    program
      .command('demo')
      .description(
        'a coordinator, members in their own processes (default 5), a t-of-n DKG (default 3-of-5) and a release signed in every format, each verified natively and with its own tool when installed',
      )
      .option(
        '--out <dir>',
        'where to write the homes, database, artifact, signature and public key',
        join(process.env['INIT_CWD'] ?? process.cwd(), '.conclave-demo'),
      )
      .option('--threshold <t>', 'approvals needed', int, 3)
      .option('--signers <n>', 'members holding a share', int, 5)
      .option('--in-process', 'fallback: every member in this process, no coordinator'),
  ).action(
    run<GlobalOptions & { out: string; threshold: number; signers: number; inProcess?: boolean }>(
      async (o, ctx) => {
        if (o.inProcess === true) {
          const result = runDemo({ ...o, json: ctx.json, progress: ctx.progress });
          ctx.result(
            { ...result },
            `${result.ok ? 'OK' : 'FAILED'}: ${result.threshold}-of-${result.signers.length} signature (in-process) on ${result.artifact}\n` +
              `  group key: ${result.groupPublicKey}\n  public key: ${result.publicKeys.pem}\n  signature: ${result.signatures.raw}`,
          );
          // One document either way (its `ok` says whether it passed), as the default demo.
          if (!result.ok) process.exitCode = 1;
          return;
        }
        await runRealDemo({ ...o, json: ctx.json }, ctx);
      },
    ),
  );
  // Governance (docs/policy.md): policy show|set, release revoke|revocations, request extras.
  const helpers = { common, run, int, seconds, passphraseHelp: PASSPHRASE_HELP };
  registerPolicy(program, helpers);
  registerRelease(program, helpers);
  registerAudit(program); // audit ID|BUNDLE, audit export, log verify, log witness
  return program;
}

/** `group show|refresh|reshare|repair|rotate` (docs/lifecycle.md; commands/group.ts). */
function registerLifecycle(group: Command): void {
  const adminKey = '--admin-key <file>';
  const adminHelp = 'the admin key file printed by `coordinator start`';
  const waiting = (cmd: Command) =>
    cmd
      .option('--no-wait', 'return once the ceremony is open')
      .option('--timeout <seconds>', 'give up waiting after this long', seconds, 600);
  common(
    group
      .command('show [name]')
      .description('groups, their members, threshold, key epoch and public key')
      .option(adminKey, `${adminHelp} (else: as this member)`)
      .addHelpText('after', MEMBER_PASSPHRASE_HELP),
  ).action(
    run<GlobalOptions & { adminKey?: string }>((o, ctx, name) => cmdGroupShow(name, o, ctx)),
  );
  common(
    waiting(
      group
        .command('refresh <name>')
        .description('new shares for the same members and threshold; same public key (admin)')
        .requiredOption(adminKey, adminHelp),
    ),
  ).action(
    run<GlobalOptions & { adminKey: string; wait: boolean; timeout: number }>((o, ctx, name) =>
      cmdGroupRefresh(groupArg(name), o, ctx),
    ),
  );
  common(
    waiting(
      group
        .command('reshare <name>')
        .description('move the key to new members and/or a new threshold; same public key (admin)')
        .requiredOption('--members <list>', 'the new roster, comma-separated (or name=PUB)')
        .requiredOption('--threshold <t>', 'approvals needed afterwards', int)
        .option('--dealers <list>', 'current holders who deal (default: those who stay)')
        .requiredOption(adminKey, adminHelp),
    ),
  ).action(
    run<Parameters<typeof cmdGroupReshare>[1]>((o, ctx, name) =>
      cmdGroupReshare(groupArg(name), o, ctx),
    ),
  );
  common(
    waiting(
      group
        .command('repair <name>')
        .description("rebuild a member's lost share with the help of t others (admin)")
        .requiredOption('--member <name>', 'the member who lost its share')
        .option('--helpers <list>', 'who helps (default: the first t others)')
        .requiredOption(adminKey, adminHelp),
    ),
  ).action(
    run<Parameters<typeof cmdGroupRepair>[1]>((o, ctx, name) =>
      cmdGroupRepair(groupArg(name), o, ctx),
    ),
  );
  common(
    group
      .command('rotate <name>')
      .description(
        'a NEW key by DKG in a new group (NAME-v2, …) and the transition statement both quorums sign next (group transition-sign) (admin)',
      )
      .requiredOption('--members <list>', 'members of the new group (or name=PUB)')
      .requiredOption('--threshold <t>', 'approvals needed in the new group', int)
      .requiredOption('--reason <text>', 'why (in the signed transition statement)')
      .option('--new-group <name>', 'name of the new group (default: NAME-v2, NAME-v3, …)')
      .option('--out <file>', 'where to write the transition statement')
      .option('--timeout <seconds>', 'give up waiting for the DKG after this long', seconds, 600)
      .requiredOption(adminKey, adminHelp),
  ).action(
    run<
      GlobalOptions & {
        adminKey: string;
        wait: boolean;
        timeout: number;
        members: string;
        threshold: number;
        reason: string;
        newGroup?: string;
        out?: string;
      }
    >((o, ctx, name) => {
      if (o.newGroup !== undefined) groupArg(o.newGroup);
      return cmdGroupRotate(groupArg(name), { ...o, wait: true }, ctx);
    }),
  );
  common(
    group
      .command('transition-sign <name>')
      .description(
        "the rotation's two quorum signatures: a signing ceremony of NAME and one of the new group over the transition file (dsse), then one bundle (a member of both groups)",
      )
      .requiredOption('--file <file>', 'the transition statement `group rotate` wrote')
      .option(
        '--out <file>',
        'where to write the bundle (default: NAME-to-NEW.transition-bundle.json)',
      )
      .option('--old-envelope <file>', "use this release.intoto.json for the old group's side")
      .option('--new-envelope <file>', "use this release.intoto.json for the new group's side")
      .option(
        '--timeout <seconds>',
        'give up waiting for the quorums after this long',
        seconds,
        600,
      )
      .addHelpText('after', PASSPHRASE_HELP),
  ).action(
    run<Parameters<typeof cmdTransitionSign>[1]>((o, ctx, name) =>
      cmdTransitionSign(groupArg(name), o, ctx),
    ),
  );
  common(
    group
      .command('verify-transition <bundle>')
      .description(
        'check a rotation bundle: the old group and the new group each signed the transition statement; exit 1 naming the failed check',
      )
      .option(
        '--old-key <hex|file>',
        'the group key you trusted until now (refuse other transitions)',
      )
      .option('--new-key <hex|file>', 'the new key you were told (refuse another)')
      .option(
        '--extract <dir>',
        "also write each side's signed bytes, signature and key (openssl)",
      ),
  ).action(
    run<GlobalOptions & { oldKey?: string; newKey?: string; extract?: string }>((o, ctx, file) =>
      cmdVerifyTransition(file ?? '', o, ctx),
    ),
  );
}

/**
 * A usage mistake (INVALID_ARGUMENT, from the CLI or a package) exits 2 like commander's own usage
 * errors and `verify`/`audit`; any other coded error exits with its own code, else 1.
 */
function exitCodeOf(e: unknown): number {
  if (toError(e).code === 'INVALID_ARGUMENT') return 2;
  return e instanceof CliError ? e.exitCode : 1;
}

/**
 * `conclave` or `conclave group` without a command: commander prints the usage and ends with
 * `commander.help` (or, for `conclave group --json`, an unknown option: the group has no --json),
 * which is a usage error, exit 2, not a success. The error names the commands to choose from.
 */
function missingCommand(
  program: Command,
  argv: readonly string[],
  e: CommanderError,
): CliError | undefined {
  let cmd = program;
  let operand = false;
  for (const word of argv) {
    if (word.startsWith('-')) continue;
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub === undefined) {
      operand = true;
      break;
    }
    cmd = sub;
  }
  const group = cmd.commands.length > 0 && cmd.registeredArguments.length === 0 && !operand;
  if (!(e.code === 'commander.help' || (e.code === 'commander.unknownOption' && group))) {
    return undefined;
  }
  const path = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) path.unshift(c.name());
  const name = path.join(' ');
  const choices = cmd.commands.map((c) => c.name()).filter((n) => n !== 'help');
  return new CliError(
    'INVALID_ARGUMENT',
    `\`${name}\` needs a command (${choices.join(', ')}); run \`${name} --help\` for usage`,
    2,
  );
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.exitCode === 0
      )
        return 0;
      const missing = missingCommand(program, argv, e);
      // Commander printed the usage (or its own error line); a missing command adds our coded
      // error naming the commands to choose from. --json gets its one document either way.
      if (missing !== undefined) printError(missing, json);
      else if (json)
        printError(new CliError('INVALID_ARGUMENT', e.message.replace(/^error: /, '')), true);
      return 2;
    }
    printError(e, json);
    return exitCodeOf(e);
  }
}

if (process.argv[1] && /main\.ts$|conclave(\.mjs)?$/.test(process.argv[1])) {
  const code = await main(process.argv.slice(2));
  process.stdout.write('', () => process.exit(code));
}
