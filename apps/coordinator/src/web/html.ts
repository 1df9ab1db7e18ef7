// Server-rendered HTML with escaping by construction: every value interpolated into `html`` ` is
// escaped unless it is itself an `Html` fragment (made by `html` or, for fixed markup only, `raw`).

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for element content and quoted attribute values. */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return esc(value);
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** Fixed markup written in this codebase (never for data). */
export function raw(text: string): Html {
  return new Html(text);
}

/**
 * A time (ms since the epoch) to the second in ISO 8601, for the pages; '—' for none, and for one
 * no Date can hold (a hostile row: toISOString would throw and fail the whole page).
 */
export function isoTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const date = new Date(ms);
  return Number.isFinite(date.getTime()) ? date.toISOString().replace('.000Z', 'Z') : '—';
}
