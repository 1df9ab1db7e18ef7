// Cross-field rules shared by message schemas.
import type * as z from 'zod';

/** Adds an issue at `[index, key]` for each repeated value of `key` in an array. */
export function uniqueBy<T>(key: keyof T & string) {
  return (items: readonly T[], ctx: z.RefinementCtx): void => {
    const seen = new Set<unknown>();
    items.forEach((item, index) => {
      const value = item[key];
      if (seen.has(value)) {
        ctx.addIssue({ code: 'custom', message: `duplicate ${key}`, path: [index, key] });
      }
      seen.add(value);
    });
  };
}

/** Adds an issue at `[index]` for each repeated value in an array of primitives. */
export function uniqueValues(items: readonly unknown[], ctx: z.RefinementCtx): void {
  const seen = new Set<unknown>();
  items.forEach((item, index) => {
    if (seen.has(item)) ctx.addIssue({ code: 'custom', message: 'duplicate value', path: [index] });
    seen.add(item);
  });
}
