// The e-mail an account's admins get when a delivery has failed for the last time (dialect §6): the hook,
// its URL, the event, and every attempt with its time, status and error. Never the secret.
import type { AttemptRow } from './record.js';

export interface FailedDelivery {
  hookId: number;
  eventId: number;
  webhookId: string;
  hook: { title: string; url: string };
  event: { type: string; objectId: number };
}

const iso = (ms: number) => new Date(ms).toISOString();

export function failureMail(d: FailedDelivery, attempts: readonly AttemptRow[]): { subject: string; text: string } {
  const title = d.hook.title || '(untitled)';
  const subject = `Hookline: webhook "${title}" (hook ${d.hookId}) failed to deliver ${d.event.type} for ${d.event.objectId}`;
  const lines = [
    `A notification could not be delivered after ${attempts.length} attempt${attempts.length === 1 ? '' : 's'}.`,
    'Hookline has stopped retrying it; it can be sent again from the deliveries of the hook (redeliver).',
    '',
    `Hook:       ${title} (id ${d.hookId})`,
    `URL:        ${d.hook.url}`,
    `Event:      ${d.event.type} (event ${d.eventId})`,
    `Object id:  ${d.event.objectId}`,
    `Webhook id: ${d.webhookId}`,
    '',
    'Attempts:',
    ...attempts.map(
      (a, i) =>
        `  ${i + 1}. ${iso(a.started_at)}  ${a.trigger}  ${a.status_code === null ? 'no answer' : `status ${a.status_code}`}` +
        `  ${a.duration_ms} ms${a.error ? `  error: ${a.error}` : ''}`,
    ),
    '',
  ];
  return { subject, text: lines.join('\n') };
}

/** The e-mail that says a hook was disabled because its deliveries kept failing (HOOKLINE_DISABLE_AFTER). */
export function disabledMail(
  hook: { hookId: number; title: string; url: string },
  failingSince: number,
  now: number,
): { subject: string; text: string } {
  const title = hook.title || '(untitled)';
  const days = ((now - failingSince) / 86_400_000).toFixed(1);
  return {
    subject: `Hookline: webhook "${title}" (hook ${hook.hookId}) disabled after failing for ${days} days`,
    text: [
      `Every notification to this webhook has failed since ${iso(failingSince)}, so Hookline has disabled it.`,
      'Events raised while it is disabled are not delivered to it. Deliveries that failed can be sent again',
      'with redeliver; the hook is turned on again with PUT /hooks/{id}/ and active=1.',
      '',
      `Hook:      ${title} (id ${hook.hookId})`,
      `URL:       ${hook.url}`,
      `Failing since: ${iso(failingSince)}`,
      `Disabled:  ${iso(now)}`,
      '',
    ].join('\n'),
  };
}

/**
 * The e-mail that says a hook was disabled because its receiver answered 410 Gone (HOOKLINE_DISABLE_ON_GONE):
 * the receiver's way of saying it wants no more notifications (Standard Webhooks).
 */
export function goneMail(
  hook: { hookId: number; title: string; url: string },
  d: { eventId: number; event: { type: string; objectId: number } },
  now: number,
): { subject: string; text: string } {
  const title = hook.title || '(untitled)';
  return {
    subject: `Hookline: webhook "${title}" (hook ${hook.hookId}) disabled: its receiver answered 410 Gone`,
    text: [
      'The receiver of this webhook answered a notification with 410 Gone, its way of saying that it wants no',
      'more notifications, so Hookline has disabled the hook. Events raised while it is disabled are not',
      'delivered to it. Deliveries already made wait, and go out again once the hook is turned on with',
      'PUT /hooks/{id}/ and active=1.',
      '',
      `Hook:      ${title} (id ${hook.hookId})`,
      `URL:       ${hook.url}`,
      `Answered:  ${d.event.type} for ${d.event.objectId} (event ${d.eventId})`,
      `Disabled:  ${iso(now)}`,
      '',
    ].join('\n'),
  };
}
