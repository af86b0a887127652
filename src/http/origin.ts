// Where a browser says a request came from (Fetch metadata, Origin), against cross-site request forgery.
//
// The API takes HTTP Basic logins, and a browser that has once answered the Basic prompt for Hookline's
// origin sends them again with any request to it, including one another site's page makes (a form posted to
// /hooks/, a <script src> of a JSONP list). Non-browser clients (every Solve360 integration) send neither
// Sec-Fetch-Site nor Origin, so refusing what a browser marks as coming from elsewhere costs them nothing.
import type { FastifyRequest } from 'fastify';

/**
 * A browser that says where a request came from must say it came from here: Fetch metadata (every current
 * browser sends it), else the Origin's host against the Host the request came to (or the one a proxy in
 * front says it came to). By host, not scheme: behind a proxy that ends TLS the page is https and Hookline
 * sees http. A request that says nothing (not a browser's, or an old browser's plain navigation) passes.
 */
export function sameOrigin(req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin';
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false; // "null": a sandboxed frame, a file: page
  }
  return host === req.headers.host || host === req.headers['x-forwarded-host'];
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether an API request is a browser's from another site that could act with the user's saved login:
 * any write, and any read other than a navigation (a link followed, which shows the answer to the user
 * only), since a <script> of a JSONP answer would hand the data to the other site. A request the user made
 * themselves (Sec-Fetch-Site: none: typed, bookmarked) is not.
 */
export function forgedElsewhere(req: FastifyRequest): boolean {
  if (sameOrigin(req) || req.headers['sec-fetch-site'] === 'none') return false;
  return !SAFE_METHODS.has(req.method) || req.headers['sec-fetch-mode'] !== 'navigate';
}
