/**
 * Scheduled messages: a message posted with `deliverAt` is stored at once and fans out at that
 * time. Its endpoints are chosen when it is accepted, like any message's; its first attempts wait
 * in the queue's delay (up to SQS's 15 minutes) or, further ahead, in the ledger until the
 * sweeper queues them. Until then it can be cancelled.
 */
import { addSeconds } from './clock.ts';
import { ValidationError } from './errors.ts';
import type { Message } from './model.ts';

/** How far ahead a message may be scheduled. */
export const MAX_SCHEDULE_AHEAD_SECONDS = 7 * 24 * 3600;
/** A `deliverAt` this far in the past is a client's clock, not a mistake: it is sent at once. */
export const SCHEDULE_PAST_TOLERANCE_SECONDS = 60;
/**
 * A message due within this long is queued with a delay when it is accepted (dispatch) or when the
 * sweeper, which runs every minute, finds it. Below SQS's 900 s delay cap, with room for a sweeper
 * that runs late.
 */
export const SCHEDULE_LOOKAHEAD_SECONDS = 600;

export type MessageStatus = 'scheduled' | 'cancelled' | 'dispatched';

/** Checks a requested `deliverAt` against the window the contract allows. */
export function checkDeliverAt(deliverAt: Date, now: Date): void {
  const latest = addSeconds(now, MAX_SCHEDULE_AHEAD_SECONDS);
  if (deliverAt.getTime() > latest.getTime()) {
    throw new ValidationError(`deliverAt may be at most 7 days ahead (${latest.toISOString()})`, [
      { path: 'deliverAt', message: 'more than 7 days ahead' },
    ]);
  }
  if (deliverAt.getTime() < addSeconds(now, -SCHEDULE_PAST_TOLERANCE_SECONDS).getTime()) {
    throw new ValidationError(`deliverAt is in the past; omit it to send now, or give a time up to 7 days ahead`, [
      { path: 'deliverAt', message: 'in the past' },
    ]);
  }
}

/** Whether the message waits for its `deliverAt` (it was accepted before it). */
export function isScheduled(message: Pick<Message, 'deliverAt' | 'createdAt'>): boolean {
  return message.deliverAt !== undefined && Date.parse(message.deliverAt) > Date.parse(message.createdAt);
}

/** When the message fans out: its `deliverAt` if scheduled, else when it was accepted. */
export function dispatchTimeOf(message: Pick<Message, 'deliverAt' | 'createdAt'>): Date {
  return new Date(isScheduled(message) ? (message.deliverAt as string) : message.createdAt);
}

/** Whether a scheduled message is too far ahead for the queue's delay when accepted: it waits for the sweeper. */
export function waitsForSweeper(message: Pick<Message, 'deliverAt' | 'createdAt'>): boolean {
  return dispatchTimeOf(message).getTime() - Date.parse(message.createdAt) > SCHEDULE_LOOKAHEAD_SECONDS * 1000;
}

/** Whole seconds until the message is due (0 when it is), so a delayed job never arrives early. */
export function secondsUntil(at: Date | string, now: Date): number {
  return Math.max(0, Math.ceil(((typeof at === 'string' ? Date.parse(at) : at.getTime()) - now.getTime()) / 1000));
}

/** `scheduled` until its time, `cancelled` if it was, `dispatched` once it fans out (at once for an unscheduled one). */
export function messageStatus(message: Pick<Message, 'deliverAt' | 'createdAt' | 'cancelledAt'>, now: Date): MessageStatus {
  if (message.cancelledAt !== undefined) return 'cancelled';
  return dispatchTimeOf(message).getTime() > now.getTime() ? 'scheduled' : 'dispatched';
}
