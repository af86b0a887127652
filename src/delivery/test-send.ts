// Test notifications (POST /hooks/{id}/test/, `hookline deliveries test`): an event of the account sent to a
// hook now, to check a receiver. By default the account's latest event of the hook's type and kind, among its
// last TEST_LOOKBACK events; or the event named. Sent to the hook as it is, active or not, signed as usual,
// with a webhook-id of its own (`test_…`, never a delivery's, so a receiver that drops repeated ids does not
// drop the real delivery later). Not a delivery: nothing is recorded and nothing is retried.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Engine } from '../storage/port.js';
import { formatDate, type TreeObject } from '../dialect/tree.js';
import { Errors } from '../errors.js';
import type { Clock } from './clock.js';
import { readHook } from './claim.js';
import { failedAttempt } from './send.js';
import type { Transport } from './transport.js';

/** How far back the default event is looked for: a bounded walk back over the account's events. */
const TEST_LOOKBACK = 10_000;
const COLUMNS = 'id, type, object_id, content';

interface EventRow {
  id: number;
  type: string;
  object_id: number;
  content: string;
}

export async function sendTest(
  o: { engine: Engine; transport: Transport; clock: Clock; logger?: Logger },
  k: { accountId: number; hookId: number; eventId?: number },
): Promise<TreeObject> {
  const { accountId, hookId, eventId } = k;
  const now = o.clock.now();
  const { hook, event } = await o.engine.read(async (x) => {
    const hook = await readHook(x, { accountId, hookId }, now);
    if (!hook) throw Errors.notFound('id', `No hook ${hookId}`);
    const event =
      eventId !== undefined
        ? await x.get<EventRow>(`SELECT ${COLUMNS} FROM events WHERE account_id = ? AND id = ?`, [accountId, eventId])
        : await x.get<EventRow>(
            `SELECT ${COLUMNS} FROM (
               SELECT ${COLUMNS}, object_kind FROM events WHERE account_id = ?
                ORDER BY id DESC LIMIT CAST(? AS INTEGER)) AS recent
              WHERE type = ? AND (? = 'all' OR object_kind = ?)
              ORDER BY id DESC LIMIT 1`,
            [accountId, TEST_LOOKBACK, hook.event, hook.constrainttype, hook.constrainttype],
          );
    if (!event) {
      const kind = hook.constrainttype === 'all' ? '' : ` of a ${hook.constrainttype}`;
      throw Errors.notFound(
        'eventid',
        eventId !== undefined
          ? `No event ${eventId}`
          : `No recent ${hook.event} event${kind} to send: make such a change first, or name an event with eventid`,
      );
    }
    return { hook, event };
  });
  const id = Number(event.id);
  const objectId = Number(event.object_id);
  const webhookId = `test_${hookId}_${id}_${randomBytes(4).toString('hex')}`;
  const source = {
    hookId,
    eventId: id,
    hook,
    event: { type: event.type, objectId, content: event.content },
    webhookId,
  };
  const r = await o.transport.send(source, now).catch((e: Error) => failedAttempt(`sending failed: ${e.message}`));
  o.logger?.info({ hookId, eventId: id, status: r.statusCode, error: r.error }, 'test notification sent');
  return {
    webhookid: webhookId,
    eventid: id,
    type: event.type,
    objectid: objectId,
    started: formatDate(now),
    durationms: r.durationMs,
    statuscode: r.statusCode,
    error: r.error,
    responsebody: r.responseBody,
  };
}
