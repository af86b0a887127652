// Path parameters: an id in the URL that is not a positive integer names nothing, so it is a 404.
import type { FastifyRequest } from 'fastify';
import { Errors } from '../errors.js';
import { parseId } from '../records/values.js';

/** Reads the id in path parameter `param`; the error names `field` (the parameter itself by default). */
export function pathId(req: FastifyRequest, param: string, field = param): number {
  const raw = (req.params as Record<string, string>)[param];
  const id = parseId(raw);
  if (id === null) throw Errors.notFound(field, `"${raw}" is not an id`);
  return id;
}
