// Verification reports: a list of named checks, each passed or failed with a short detail.

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** For a failed check: the error code that names the broken rule. */
  readonly code?: string;
}

export interface Report {
  readonly ok: boolean;
  readonly checks: readonly Check[];
}

export class Checks {
  readonly list: Check[] = [];

  pass(name: string, detail: string): void {
    this.list.push({ name, ok: true, detail });
  }

  fail(name: string, code: string, detail: string): void {
    this.list.push({ name, ok: false, detail, code });
  }

  add(name: string, ok: boolean, code: string, detail: string, failDetail = detail): void {
    if (ok) this.pass(name, detail);
    else this.fail(name, code, failDetail);
  }

  get ok(): boolean {
    return this.list.every((c) => c.ok);
  }

  report(): Report {
    return { ok: this.ok, checks: this.list };
  }
}
