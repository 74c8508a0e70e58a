import { ValidationError } from './errors.ts';

/**
 * What a history list may be narrowed to by time: items created at or after `after` and before
 * `before`. Half-open, so consecutive windows neither overlap nor leave a gap. Ids are ULIDs, so
 * the stores turn a window into a range of ids and read nothing outside it.
 */
export interface CreatedWindow {
  readonly after?: Date;
  readonly before?: Date;
}

/** An empty or inverted window is a caller's mistake, not an empty page. */
export function checkCreatedWindow(window: CreatedWindow): void {
  if (window.after && window.before && window.after.getTime() >= window.before.getTime()) {
    throw new ValidationError('`after` must be earlier than `before`: the window is [after, before)', [
      { path: 'query.after', message: `must be earlier than before (${window.before.toISOString()})` },
    ]);
  }
}

/** Whether an item created at `createdAt` falls in the window (for stores that filter in memory). */
export function isInWindow(createdAt: Date, window: CreatedWindow): boolean {
  return (
    (!window.after || createdAt.getTime() >= window.after.getTime()) && (!window.before || createdAt.getTime() < window.before.getTime())
  );
}
