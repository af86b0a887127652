// Counts per key (requests per hook, in flight or held): a key whose count falls to zero is removed, so a
// map's size is the number of keys with something counted.

/** One more for `key`; answers its count now. */
export function countUp<K>(counts: Map<K, number>, key: K): number {
  const n = (counts.get(key) ?? 0) + 1;
  counts.set(key, n);
  return n;
}

/** One less for `key`; answers what is left. */
export function countDown<K>(counts: Map<K, number>, key: K): number {
  const n = (counts.get(key) ?? 1) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
  return n;
}
