/** What every page shares: the session, loading, errors, buttons that act, copying, and the chart. */
import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useState } from 'preact/hooks';
import { ApiError, type Schemas, type SluiceClient } from './api.ts';
import { barsOf, formatTime } from './lib.ts';

export interface Portal {
  readonly client: SluiceClient;
  readonly session: Schemas['CurrentPortalSession'];
  /** A `read` session sees no button that would change anything (the API refuses it anyway). */
  readonly canManage: boolean;
  /** The API answered 401: the session ended. */
  readonly signOut: (reason: string) => void;
}

export const PortalContext = createContext<Portal | undefined>(undefined);

export function usePortal(): Portal {
  const portal = useContext(PortalContext);
  if (!portal) throw new Error('usePortal outside the signed-in portal');
  return portal;
}

/**
 * What a failed call says to show: its message. A 401 means the session ended, so it also signs
 * out. One rule for every load, list and button.
 */
function useFailure(): (error: unknown) => string {
  const { signOut } = usePortal();
  return (error) => {
    if (error instanceof ApiError && error.status === 401) signOut(error.message);
    return error instanceof Error ? error.message : String(error);
  };
}

/** Loads once (and again on `reload`); a 401 signs out, any other error is shown where the data would be. */
export function useLoad<T>(load: (client: SluiceClient) => Promise<T>, deps: readonly unknown[]) {
  const { client } = usePortal();
  const failed = useFailure();
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    setState((previous) => ({ ...previous, loading: true }));
    load(client).then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => {
        if (live) setState({ error: failed(error), loading: false });
      },
    );
    return () => {
      live = false;
    };
  }, [client, generation, ...deps]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function ErrorNote({ message }: { message: string | undefined }) {
  if (!message) return null;
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

/** A button that calls the API, says it is busy, and reports the outcome in a live region. */
export function ActionButton(props: {
  label: string;
  /** What it did, to say so (a string), or nothing to say. */
  run: () => Promise<unknown>;
  confirm?: string;
  variant?: 'primary' | 'danger' | 'plain';
  onDone?: () => void;
}) {
  const failed = useFailure();
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | undefined>();
  const click = async () => {
    if (props.confirm && !window.confirm(props.confirm)) return;
    setBusy(true);
    setOutcome(undefined);
    try {
      const text = await props.run();
      setOutcome(typeof text === 'string' && text ? { ok: true, text } : undefined);
      props.onDone?.();
    } catch (error) {
      setOutcome({ ok: false, text: failed(error) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button type="button" class={props.variant ?? 'plain'} disabled={busy} aria-busy={busy} onClick={click}>
        {busy ? `${props.label}…` : props.label}
      </button>
      <span role="status" class={outcome?.ok === false ? 'error' : 'ok'}>
        {outcome?.text}
      </span>
    </span>
  );
}

/**
 * A table that may scroll sideways (a phone): a named region the keyboard can reach and scroll,
 * as WCAG 2.1.1 asks of anything that scrolls.
 */
export function TableScroll({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus to be scrolled from the keyboard (axe: scrollable-region-focusable).
    <section class="table-wrap" aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}

export interface Column<T> {
  readonly header: ComponentChildren;
  readonly cell: (row: T) => ComponentChildren;
  /** A column of long unbroken text (a response body) wraps in monospace. */
  readonly excerpt?: boolean;
}

/** Rows under column headers, in a region that scrolls sideways on a phone; `empty` when there are none. */
export function DataTable<T>(props: {
  label: string;
  rows: readonly T[];
  rowKey: (row: T) => string;
  columns: readonly Column<T>[];
  empty?: string;
}) {
  if (props.rows.length === 0) return props.empty ? <p class="muted">{props.empty}</p> : null;
  return (
    <TableScroll label={`${props.label} table`}>
      <table>
        <thead>
          <tr>
            {props.columns.map((column, index) => (
              <th scope="col" key={index}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr key={props.rowKey(row)}>
              {props.columns.map((column, index) => (
                <td key={index} class={column.excerpt ? 'excerpt' : undefined}>
                  {column.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

/** A value to read and select, not to edit: a revealed secret, a trigger URL. */
export function Reveal({ label, value }: { label: string; value: string }) {
  return (
    <input type="text" class="reveal" readOnly aria-label={label} value={value} onFocus={(e) => (e.target as HTMLInputElement).select()} />
  );
}

/** Copies a value to the clipboard; the value itself is shown by the caller (or not, for secrets kept hidden). */
export function CopyButton({ value, label = 'Copy' }: { value: string; label?: string }) {
  const [copied, setCopied] = useState<string>('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('Copied');
    } catch {
      setCopied('Copy failed: select the text and copy it');
    }
  };
  return (
    <span class="action">
      <button type="button" class="plain" onClick={copy}>
        {label}
      </button>
      <span role="status" class="ok">
        {copied}
      </span>
    </span>
  );
}

const statusClass: Record<string, string> = {
  succeeded: 'good',
  acknowledged: 'good',
  pending: 'neutral',
  scheduled: 'neutral',
  dispatched: 'good',
  failed: 'warn',
  dead: 'bad',
  gone: 'bad',
  cancelled: 'neutral',
  enabled: 'good',
  disabled: 'bad',
};

export function Status({ value }: { value: string }) {
  return <span class={`badge ${statusClass[value] ?? 'neutral'}`}>{value}</span>;
}

export function Time({ iso }: { iso: string | undefined }) {
  return iso ? <time dateTime={iso}>{formatTime(iso)}</time> : <span>—</span>;
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card" aria-label={title}>
      <div class="card-head">
        <h2>{title}</h2>
        {actions && <div class="card-actions">{actions}</div>}
      </div>
      {children}
    </section>
  );
}

/** A list page's rows with "Load more" for the next page; every history list pages by cursor. */
export function usePaged<T>(
  load: (client: SluiceClient, cursor: string | undefined) => Promise<{ data: T[]; nextCursor?: string }>,
  deps: readonly unknown[],
) {
  const { client } = usePortal();
  const failed = useFailure();
  const [rows, setRows] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | undefined>();
  const [state, setState] = useState<{ loading: boolean; error?: string }>({ loading: true });
  const [generation, setGeneration] = useState(0);
  const fetchPage = useCallback(
    async (after: string | undefined, replace: boolean) => {
      setState({ loading: true });
      try {
        const page = await load(client, after);
        setRows((previous) => (replace ? page.data : [...previous, ...page.data]));
        setCursor(page.nextCursor);
        setState({ loading: false });
      } catch (error) {
        setState({ loading: false, error: failed(error) });
      }
    },
    [client, ...deps],
  );
  useEffect(() => {
    void fetchPage(undefined, true);
  }, [fetchPage, generation]);
  return {
    rows,
    ...state,
    more: cursor ? () => void fetchPage(cursor, false) : undefined,
    reload: () => setGeneration((g) => g + 1),
  };
}

export function RefreshButton({ onClick }: { onClick: () => void }) {
  return (
    <button type="button" class="plain" onClick={onClick}>
      Refresh
    </button>
  );
}

export function MoreButton({ more, loading }: { more: (() => void) | undefined; loading: boolean }) {
  if (!more) return null;
  return (
    <button type="button" class="plain" disabled={loading} onClick={more}>
      Load more
    </button>
  );
}

/**
 * Successes and failures per hour over the last 24 h, as stacked bars. The numbers are also in
 * a table for screen readers (and anyone who would rather read them).
 */
export function DeliveryChart({ stats }: { stats: Schemas['EndpointStats'] }) {
  const height = 120;
  const barWidth = 12;
  const gap = 4;
  const { bars, max } = barsOf(stats.buckets, height);
  const width = bars.length * (barWidth + gap);
  const succeeded = stats.totals.succeeded + stats.totals.acknowledged;
  const failed = stats.totals.failed + stats.totals.dead;
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${width} ${height + 2}`}
        role="img"
        aria-label={`Last 24 hours: ${succeeded} delivered, ${failed} failed or dead; busiest hour ${max}`}
        preserveAspectRatio="none"
      >
        {bars.map((bar, index) => (
          <g key={bar.start}>
            <title>{`${formatTime(bar.start)}: ${bar.succeeded} delivered, ${bar.failed} failed`}</title>
            <rect
              class="bar-ok"
              x={index * (barWidth + gap)}
              y={height - bar.succeededHeight}
              width={barWidth}
              height={bar.succeededHeight}
            />
            <rect
              class="bar-failed"
              x={index * (barWidth + gap)}
              y={height - bar.succeededHeight - bar.failedHeight}
              width={barWidth}
              height={bar.failedHeight}
            />
          </g>
        ))}
      </svg>
      <div class="chart-axis" aria-hidden="true">
        <span>{formatTime(stats.after).slice(11, 16)}</span>
        <span>{formatTime(stats.before).slice(11, 16)} UTC</span>
      </div>
      <figcaption>
        <span class="legend ok-swatch">{succeeded} delivered</span> <span class="legend failed-swatch">{failed} failed or dead</span>{' '}
        <span class="muted">per hour, last 24 h{stats.truncated ? ' (the newest deliveries only)' : ''}</span>
      </figcaption>
      <details>
        <summary>The numbers</summary>
        <DataTable
          label="Deliveries per hour"
          rows={bars}
          rowKey={(bar) => bar.start}
          columns={[
            { header: 'Hour (UTC)', cell: (bar) => formatTime(bar.start) },
            { header: 'Delivered', cell: (bar) => bar.succeeded },
            { header: 'Failed', cell: (bar) => bar.failed },
          ]}
        />
      </details>
    </figure>
  );
}
