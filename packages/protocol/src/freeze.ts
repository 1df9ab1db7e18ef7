/**
 * Deep-freezes a parsed value before it is shared from a cache, so that one reader cannot change
 * what the next one sees (a write then throws in strict-mode code instead of spreading quietly).
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
