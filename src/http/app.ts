// The Fastify application: body parsing for XML/JSON/form (GET bodies included), HTTP Basic auth, the
// Solve360 envelope for every answer and error, and the routes of each resource.
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { hash } from 'node:crypto';
import { StorageUnavailable, type Engine } from '../storage/port.js';
import { authenticate, type Actor } from '../accounts/accounts.js';
import { SESSION_COOKIE, cookieValue, sessionActor } from '../accounts/sessions.js';
import { safeEqual } from '../webhooks/signer.js';
import { AccountCache } from '../records/account-cache.js';
import type { Ctx } from '../records/items.js';
import { ApiError, Errors } from '../errors.js';
import { negotiate, render } from '../dialect/respond.js';
import { parseXml } from '../dialect/xml.js';
import { parseJson } from '../dialect/json.js';
import { parseForm } from '../dialect/form.js';
import { declaredCharset, decodeBody } from '../dialect/text.js';
import { forgedElsewhere } from './origin.js';
import { clientErrorHandler } from './client-error.js';
import type { ApiQuota } from './quota.js';
import { formatDuration } from '../config.js';
import type { Tree, TreeObject } from '../dialect/tree.js';
import { recordRoutes } from './routes/records.js';
import { accountRoutes } from './routes/account.js';

export interface Clock {
  now(): number;
}

export interface AppDeps {
  engine: Engine;
  bodyLimit: number;
  logger?: Logger | false;
  clock?: Clock;
  /** The API quota (HOOKLINE_API_QUOTA); none: no quota. */
  quota?: ApiQuota;
  /** Extra routes (webhook management, batch, reports, …) registered on the same app. */
  plugins?: ((app: FastifyInstance, h: Handlers) => void)[];
}

/** What every route handler gets: the request context and a way to answer in the envelope. */
export interface Handlers {
  engine: Engine;
  cache: AccountCache;
  clock: Clock;
  ctx(req: FastifyRequest): Promise<Ctx>;
  /** Parameters of a GET: query string merged over an XML/JSON body. */
  params(req: FastifyRequest): TreeObject;
  body(req: FastifyRequest): TreeObject;
  send(req: FastifyRequest, reply: FastifyReply, body: TreeObject | Map<string, Tree>, status?: number): FastifyReply;
  requireAdmin(req: FastifyRequest): void;
  /** Any error as the answer it gets (an unexpected fault is logged and becomes a 500): for a route's own error page. */
  errorOf(error: Error, req: FastifyRequest): ApiError;
}

declare module 'fastify' {
  interface FastifyRequest {
    actor?: Actor;
    tree?: TreeObject;
    /** the portal session's cookie value, when the request signed in with one (accounts/sessions.ts) */
    session?: string;
  }
  interface FastifyContextConfig {
    /** the route takes this bearer token instead of a user's Basic login */
    bearer?: string;
    /**
     * a delivery portal route: 'session' takes the portal's sign-in cookie as well as a Basic login;
     * 'public' (the sign-in page itself) takes no login at all
     */
    portal?: 'session' | 'public';
  }
}

function parseBody(contentType: string | undefined, bytes: Buffer): TreeObject {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) return parseJson(decodeBody(bytes, contentType, false));
  // Anything else may be XML, whose declaration can name its encoding.
  const text = decodeBody(bytes, contentType, true);
  // curl -d and many PHP clients label an XML body as form data: a body opening with '<' is XML.
  if (type === 'application/x-www-form-urlencoded' && !text.trimStart().startsWith('<')) {
    return parseForm(text, declaredCharset(contentType));
  }
  // XML is the default, whatever else the header says (old clients send text/plain or nothing).
  return parseXml(text);
}

async function readRaw(req: FastifyRequest, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw Errors.tooLarge(limit);
  if (!declared && !req.headers['transfer-encoding']) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req.raw) {
    size += (chunk as Buffer).length;
    if (size > limit) throw Errors.tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const AUTH_TTL_MS = 2000;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { engine, bodyLimit } = deps;
  const clock = deps.clock ?? { now: () => Date.now() };
  const cache = new AccountCache(engine);
  let requestSeq = 0;
  const app = Fastify({
    loggerInstance: deps.logger || undefined,
    logger: deps.logger === undefined ? false : undefined,
    bodyLimit,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    genReqId: () => `req-${(++requestSeq).toString(36)}-${process.pid.toString(36)}`,
    // No per-request log lines: errors are logged with their request id by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    // …which names it itself (reqId), so a request logs through the server's logger rather than a child
    // bound to its id, made for every request and used only on errors (and the id then written twice).
    childLoggerFactory: (logger: unknown) => logger,
    clientErrorHandler,
  } as never) as unknown as FastifyInstance;

  // Every body is read as bytes and parsed here: one place decides XML, JSON or form.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req, body, done) => {
    const type = String(req.headers['content-type'] ?? '').toLowerCase();
    if (type.startsWith('multipart/')) return done(null, body); // batch and uploads parse their own
    try {
      done(null, parseBody(type, body as Buffer));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  // Short-lived cache of successful logins, keyed by a hash of the Authorization header.
  const logins = new Map<string, { actor: Actor; at: number }>();
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    const header = req.headers.authorization ?? '';
    // A route for machines (GET /metrics) takes its own bearer token instead of a user's login.
    const bearer = req.routeOptions.config?.bearer;
    if (bearer) {
      const given = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? '';
      if (!safeEqual(given, bearer)) throw Errors.unauthorized();
      return;
    }
    const portal = req.routeOptions.config?.portal;
    if (portal === 'public') return;
    // The portal's forms carry a token of their own and check where they came from themselves.
    if (portal === undefined && forgedElsewhere(req)) {
      throw Errors.forbidden(
        "A browser request from another site is refused (cross-site request forgery): call the API from a server, or from Hookline's own pages",
      );
    }
    if (portal === 'session') {
      // Read on every request (not cached), so that a session signed out on any node ends at once.
      const session = cookieValue(req.headers.cookie, SESSION_COOKIE);
      const actor = session ? await sessionActor(engine, session, clock.now()) : null;
      if (actor) {
        req.actor = actor;
        req.session = session!;
        return;
      }
    }
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (!m) throw Errors.unauthorized();
    // One-shot (crypto.hash): a third of createHash's cost, on every API request.
    const key = hash('sha256', header, 'base64');
    const hit = logins.get(key);
    if (hit && Date.now() - hit.at < AUTH_TTL_MS) {
      req.actor = hit.actor;
      return;
    }
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw Errors.unauthorized();
    const actor = await authenticate(engine, decoded.slice(0, colon).trim(), decoded.slice(colon + 1));
    if (!actor) throw Errors.unauthorized();
    if (logins.size > 10_000) logins.clear();
    logins.set(key, { actor, at: Date.now() });
    req.actor = actor;
  });

  // The API quota, after the login (it is the account's): every API call counts, each batch part too (they
  // come through here again); the portal's pages and the machine routes (metrics, health) do not.
  const quota = deps.quota;
  if (quota) {
    const window = formatDuration(quota.rule.windowMs);
    app.addHook('onRequest', async (req, reply) => {
      if (!req.actor || req.routeOptions.config?.portal) return;
      const taken = quota.take(req.actor.accountId, clock.now());
      reply.header('x-ratelimit-limit', String(quota.rule.requests));
      reply.header('x-ratelimit-remaining', String(taken.remaining));
      if (!taken.ok) {
        reply.header('retry-after', String(taken.retryAfterS));
        throw Errors.quota(quota.rule.requests, window, taken.retryAfterS);
      }
    });
  }

  // A GET may carry its parameters as an XML/JSON body (dialect §1); Fastify does not parse GET bodies.
  app.addHook('preHandler', async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD') {
      const raw = await readRaw(req, bodyLimit);
      req.tree = raw.length > 0 ? parseBody(req.headers['content-type'], raw) : {};
    }
  });

  /** Any error as the answer it gets; only an unexpected fault is logged (and answered 500). */
  const errorOf = (error: Error & { statusCode?: number; code?: string }, req: FastifyRequest): ApiError => {
    if (error instanceof ApiError) return error;
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return Errors.tooLarge(bodyLimit);
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return Errors.unsupportedMediaType(String(req.headers['content-type']));
    if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return Errors.badRequest('request', 'Empty body');
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return new ApiError(error.statusCode, 'HL_HTTP', { request: error.message });
    }
    if (error instanceof StorageUnavailable) {
      // What went wrong, with the database's own words, goes to the log; the client gets no host or name.
      req.log.warn(
        { err: error.message, reqId: req.id, url: req.url.split('?')[0], method: req.method },
        'storage unavailable',
      );
      return error.outcomeUnknown ? Errors.outcomeUnknown() : Errors.unavailable();
    }
    req.log.error({ err: error, reqId: req.id, url: req.url.split('?')[0], method: req.method }, 'unexpected fault');
    return new ApiError(500, 'HL_INTERNAL', { server: `Internal error (request id ${req.id})` });
  };

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, req, reply) => {
    const api = errorOf(error, req);
    if (api.statusCode === 401) reply.header('www-authenticate', 'Basic realm="Hookline"');
    if (api.code === 'HL_UNAVAILABLE') reply.header('retry-after', '1');
    const r = render(negotiate(req.headers, req.query as Record<string, unknown>), false, { errors: api.errors });
    return reply.code(api.statusCode).type(r.contentType).send(r.body);
  });

  app.setNotFoundHandler((req, reply) => {
    const r = render(negotiate(req.headers, req.query as Record<string, unknown>), false, {
      errors: { request: `No such resource: ${req.method} ${req.url.split('?')[0]}` },
    });
    return reply.code(404).type(r.contentType).send(r.body);
  });

  const h: Handlers = {
    engine,
    cache,
    clock,
    async ctx(req) {
      const actor = req.actor!;
      return { actor, info: await cache.get(actor.accountId), now: clock.now() };
    },
    params(req) {
      return { ...(req.tree ?? {}), ...(req.query as TreeObject) };
    },
    body(req) {
      const b = req.body;
      if (b === undefined || b === null) return {};
      if (Buffer.isBuffer(b)) throw Errors.unsupportedMediaType(String(req.headers['content-type']));
      return b as TreeObject;
    },
    send(req, reply, body, status = 200) {
      const r = render(negotiate(req.headers, req.query as Record<string, unknown>), true, body);
      return reply.code(status).type(r.contentType).send(r.body);
    },
    requireAdmin(req) {
      if (req.actor?.role !== 'admin') throw Errors.forbidden('Only an admin of the account may do this');
    },
    errorOf,
  };

  accountRoutes(app, h);
  recordRoutes(app, h);
  for (const plugin of deps.plugins ?? []) plugin(app, h);
  await app.ready();
  return app;
}
