// Losing PostgreSQL and getting it back: a restart, a failover, a terminated backend or a network cut ends
// connections under Hookline. The read pool replaces its own (pg.Pool drops a client that failed); a writer
// connection (one per group-commit lane, held for the life of the server) is replaced here, by the next
// transaction that needs it. Until PostgreSQL answers again, such failures surface as StorageUnavailable
// (the API's 503), never as a statement's fault.
import pg from 'pg';
import { StorageUnavailable } from '../port.js';

/** While PostgreSQL cannot be reached, a writer tries a new connection at most this often. */
export const RECONNECT_EVERY_MS = 1000;

/**
 * SQLSTATEs of a lost or refused connection: class 08 (connection exception), 57P01–57P03 (the server
 * shutting down, crashed, or not yet accepting connections), 53300 (too many connections), and 55000 only as
 * a connection is refused ("database … is not currently accepting connections").
 */
const LOST_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** The operating system's codes for a connection refused, cut or never made. */
const SYSTEM_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Whether `e` says the connection failed or was lost, rather than that a statement was wrong. */
export function isConnectionError(e: unknown): boolean {
  if (!(e instanceof Error) || e instanceof StorageUnavailable) return false;
  const code = (e as Error & { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || LOST_STATES.has(code) || SYSTEM_CODES.has(code)) return true;
    if (code === '55000' && /not currently accepting connections/.test(e.message)) return true;
  }
  // node-postgres' own words for a connection that ended under a query, or that is known to be broken, or
  // that did not answer in time (query_timeout, connectionTimeoutMillis: PostgresOptions.answerTimeoutMs).
  return /Connection terminated|not queryable|timeout expired|Connection ended|Query read timeout/i.test(e.message);
}

/**
 * Whether `e` says the server connected to takes no writes (SQLSTATE 25006 outside a read-only transaction of
 * Hookline's own): a primary turned standby by a failover, reached through a name that now points elsewhere
 * (a managed database's writer endpoint). The statement was refused, so nothing was written; a new
 * connection may reach the new primary.
 */
export function isReadOnlyServer(e: unknown): boolean {
  return e instanceof Error && (e as Error & { code?: unknown }).code === '25006';
}

/**
 * `e` as StorageUnavailable when it is a connection failure (or a read-only server's); otherwise `e` itself.
 * `retryable`: the connection it was lost on has been given up (StorageUnavailable.retryable).
 */
export function asUnavailable(e: unknown, outcomeUnknown = false, retryable = false): unknown {
  if (e instanceof StorageUnavailable) return e;
  if (isReadOnlyServer(e)) {
    return new StorageUnavailable(`PostgreSQL takes no writes here (${(e as Error).message})`, false, { cause: e });
  }
  if (!isConnectionError(e)) return e;
  const what = outcomeUnknown
    ? 'The connection to PostgreSQL was lost as this change was committed: it may or may not have been saved'
    : 'PostgreSQL cannot be reached';
  return new StorageUnavailable(`${what} (${(e as Error).message})`, outcomeUnknown, { cause: e, retryable });
}

/**
 * A writer's connection. When it is lost (an 'error' or 'end' from the client, or a connection failure under
 * a statement: lost()), the next get() opens a new one; a get() within RECONNECT_EVERY_MS of a failed
 * attempt fails at once, so a server under load does not storm a PostgreSQL that is starting up.
 */
export class WriterConnection {
  private client: pg.Client | null = null;
  private failedAt = -Infinity;
  private connectedAt = -Infinity;
  private failure: unknown = null;
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The first connection, at start: its failure is thrown as it is (a wrong URL stops the server). */
  async open(): Promise<void> {
    this.client = await this.connect();
  }

  /** The connection, a new one if the last was lost. */
  async get(): Promise<pg.Client> {
    if (this.client) return this.client;
    if (this.closed) throw new Error('storage is closed');
    if (this.now() - this.failedAt < RECONNECT_EVERY_MS) throw asUnavailable(this.failure);
    try {
      this.client = await this.connect();
      return this.client;
    } catch (e) {
      this.failedAt = this.now();
      // A refusal PostgreSQL sends as it starts (57P03), or any other failure to connect: unavailable.
      this.failure = isConnectionError(e) ? e : Object.assign(new Error((e as Error).message), { code: '08001' });
      throw asUnavailable(this.failure);
    }
  }

  /** Whether `client` is the current connection (not one already given up). */
  current(client: pg.Client): boolean {
    return this.client === client;
  }

  /**
   * The connection failed under a statement (`why`), or said so itself: the next get() opens a new one. A
   * server that takes no writes (isReadOnlyServer) counts as a failed try when the connection refused was
   * made within RECONNECT_EVERY_MS: it takes connections, and would be asked for a new one at every write.
   */
  lost(client: pg.Client, why?: unknown): void {
    if (this.client !== client) return;
    this.client = null;
    if (isReadOnlyServer(why) && this.now() - this.connectedAt < RECONNECT_EVERY_MS) {
      this.failedAt = this.now();
      this.failure = why;
    }
    void client.end().catch(() => undefined);
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client(this.config);
    // An idle connection that fails (a terminated backend, PostgreSQL shutting down) says so here, not on
    // its next use: it is given up at once, and the next transaction opens a new one.
    const drop = () => this.lost(client);
    client.on('error', drop);
    client.on('end', drop);
    try {
      await client.connect();
      this.connectedAt = this.now();
    } catch (e) {
      client.removeListener('end', drop);
      await client.end().catch(() => undefined);
      throw e;
    }
    return client;
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    await client?.end();
  }
}
