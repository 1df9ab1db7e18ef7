/**
 * `conclave tag TAG`: a quorum-signed annotated git tag. The request carries the tag's fields (the
 * commit, tagger, time, message); every signer rebuilds the tag object text from them and signs it
 * as SSHSIG with namespace `git` (FORMATS.md "git"). The statement's subject is the source tree at
 * that commit (`git archive`), so the quorum also signs what the tag points at. When the ceremony
 * completes, the signed tag object is written into the repository: `git verify-tag` checks it with
 * `gpg.format=ssh` and the group's allowed_signers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { gitTagFileName, KEY_FILES } from '@conclave/release';
import { childEnv } from './child-env.js';
import { cmdFetch, cmdRequest } from './commands.js';
import { CliError } from './errors.js';
import type { Ctx, GlobalOptions } from './output.js';

function git(repo: string, args: readonly string[], input?: Buffer): string {
  try {
    return execFileSync('git', ['-C', repo, ...args], {
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
      // git runs the repository's hooks and configured programs: not with CONCLAVE_PASSPHRASE.
      env: childEnv(),
    })
      .toString('utf8')
      .trim();
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? String(e);
    throw new CliError('GIT_FAILED', `git ${args[0] ?? ''} failed: ${stderr}`);
  }
}

/** Collects a sub-command's result instead of printing it. */
function capture(ctx: Ctx): { ctx: Ctx; doc: () => Record<string, unknown> } {
  let doc: Record<string, unknown> | undefined;
  return {
    ctx: { json: true, progress: (l) => ctx.progress(l), result: (d) => (doc = d) },
    doc: () => doc ?? {},
  };
}

export async function cmdTag(
  tag: string,
  o: GlobalOptions & {
    group: string;
    commit: string;
    message?: string;
    repo: string;
    tagger?: string;
    force?: boolean;
    timeout: number;
  },
  ctx: Ctx,
): Promise<void> {
  const repo = resolve(o.repo);
  const object = git(repo, ['rev-parse', '--verify', `${o.commit}^{commit}`]);
  if (git(repo, ['tag', '--list', tag]) !== '' && o.force !== true) {
    throw new CliError(
      'TAG_EXISTS',
      `tag ${tag} already exists in ${repo}; pick another or pass --force`,
    );
  }
  const taggerText =
    o.tagger ?? `${git(repo, ['config', 'user.name'])} <${git(repo, ['config', 'user.email'])}>`;
  const m = /^([^<>\n]+?)\s*<([^<>\s]+)>$/.exec(taggerText);
  if (m === null) {
    throw new CliError(
      'INVALID_ARGUMENT',
      'tagger must look like "Name <email>" (--tagger, or git config user.name/user.email)',
    );
  }
  const version = tag.replace(/^refs\/tags\//, '').replace(/[^0-9A-Za-z.+_-]/g, '-');
  // The subject: the source tree at the commit, as `git archive` makes it (deterministic). The
  // work directory keeps what the result names (the fetched files: allowed_signers for `git
  // verify-tag`); the archive, a copy of the whole tree, goes when the command ends, and all of it
  // when the command fails.
  const work = mkdtempSync(join(tmpdir(), 'conclave-tag-'));
  const archive = join(work, `${basename(repo)}-${version}.tar`);
  let done = false;
  try {
    git(repo, [
      'archive',
      '--format=tar',
      `--prefix=${basename(repo)}-${version}/`,
      '-o',
      archive,
      object,
    ]);
    const sub = capture(ctx);
    await cmdRequest(
      {
        ...o,
        artifact: [archive],
        version,
        class: 'standard',
        note: o.message ?? `Release ${tag}`,
        formats: 'git,dsse',
        wait: true,
        git: {
          object,
          type: 'commit',
          tag,
          tagger: { name: m[1]!, email: m[2]!, time: Math.floor(Date.now() / 1000), tz: '+0000' },
          message: o.message ?? `Release ${tag}`,
        },
      },
      sub.ctx,
    );
    const ceremonyId = sub.doc()['ceremonyId'] as string;
    const out = join(work, 'signed');
    const fetched = capture(ctx);
    await cmdFetch(ceremonyId, { ...o, out }, fetched.ctx);
    const tagFile = join(out, gitTagFileName(tag));
    const sha = git(repo, ['hash-object', '-t', 'tag', '-w', '--stdin'], readFileSync(tagFile));
    git(repo, ['update-ref', `refs/tags/${tag}`, sha]);
    const allowed = join(out, KEY_FILES['allowed-signers']);
    writeFileSync(
      join(work, 'verify.sh'),
      `git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=${allowed} verify-tag ${tag}\n`,
    );
    done = true;
    ctx.result(
      { ceremonyId, tag, object, tagObject: sha, allowedSigners: allowed, files: out },
      `Signed tag ${tag} -> ${object} (tag object ${sha}), ceremony ${ceremonyId}\n` +
        `  verify: git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile=${allowed} verify-tag ${tag}`,
    );
  } finally {
    rmSync(done ? archive : work, { recursive: true, force: true });
  }
}
