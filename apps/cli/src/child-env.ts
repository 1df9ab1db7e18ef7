/**
 * The environment of the tools the CLI runs (git for `conclave tag`, openssl, ssh-keygen, gpgv …
 * for the demo's checks). They inherit the user's environment (PATH, HOME, git's own settings)
 * but never the CLI's secrets: `git` runs the repository's hooks and config-named programs, which
 * anyone who can write the repository chose.
 */
import { PASSPHRASE_ENV } from '@conclave/client';

/**
 * Every `CONCLAVE_*` variable the CLI reads that holds a secret. (CONCLAVE_HOME, and the test-only
 * CONCLAVE_TEST_FAULT and CONCLAVE_CHALLENGES_PER_MINUTE, are not secrets.)
 */
export const SECRET_ENV: readonly string[] = [PASSPHRASE_ENV];

/** `from` (default: this process's environment) plus `extra`, without the secrets. */
export function childEnv(
  extra: NodeJS.ProcessEnv = {},
  from: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env = { ...from, ...extra };
  for (const name of SECRET_ENV) delete env[name];
  return env;
}
