// The neutral document tree that every wire format is made from: plain objects (fields in order), arrays
// (repeated elements in XML), Maps (ordered collections whose keys may be numeric: records keyed by id),
// and scalars. `x_cn` beside `x` becomes the XML attribute cn="…" on <x> (Solve360's assignee name).
export type Scalar = string | number | boolean | null;
export type Tree = Scalar | Tree[] | TreeObject | Map<string, Tree>;
export interface TreeObject {
  [key: string]: Tree;
}

/** Dates on the wire: UTC ISO 8601 with an explicit +00:00 offset, as Solve360 writes them. */
export function formatDate(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined) return null;
  return `${new Date(ms).toISOString().slice(0, 19)}+00:00`;
}
