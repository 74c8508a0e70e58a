/** History: messages by type and time, a message's deliveries, a delivery's attempts, dead letters. */
import { useState } from 'preact/hooks';
import { must } from '../api.ts';
import {
  ActionButton,
  DataTable,
  ErrorNote,
  Loading,
  MoreButton,
  RefreshButton,
  Section,
  Status,
  Time,
  useLoad,
  usePaged,
  usePortal,
} from '../components.tsx';
import { excerpt, isoFromLocalInput } from '../lib.ts';
import { DeliveryRows } from './endpoints.tsx';

export function MessagesPage() {
  const [draft, setDraft] = useState({ type: '', after: '', before: '' });
  const [query, setQuery] = useState(draft);
  const list = usePaged(
    (client, cursor) => {
      const after = isoFromLocalInput(query.after);
      const before = isoFromLocalInput(query.before);
      return must(
        client.GET('/v1/messages', {
          params: {
            query: { limit: 50, cursor, ...(query.type && { type: query.type }), ...(after && { after }), ...(before && { before }) },
          },
        }),
      );
    },
    [query.type, query.after, query.before],
  );
  const field = (name: keyof typeof draft) => (e: Event) => setDraft({ ...draft, [name]: (e.target as HTMLInputElement).value });
  return (
    <Section title="Messages">
      <form
        class="form filters"
        onSubmit={(event) => {
          event.preventDefault();
          setQuery(draft);
        }}
      >
        <label>
          Event type
          <input type="text" placeholder="lock.unlocked" value={draft.type} onInput={field('type')} />
        </label>
        <label>
          After (UTC)
          <input type="datetime-local" value={draft.after} onInput={field('after')} />
        </label>
        <label>
          Before (UTC)
          <input type="datetime-local" value={draft.before} onInput={field('before')} />
        </label>
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      <ErrorNote message={list.error} />
      {list.rows.length === 0 && !list.loading && !list.error && <p class="muted">No messages match.</p>}
      <DataTable
        label="Messages"
        rows={list.rows}
        rowKey={(m) => m.id}
        columns={[
          { header: 'Message', cell: (m) => <a href={`#/messages/${m.id}`}>{m.id}</a> },
          { header: 'Event type', cell: (m) => m.type },
          { header: 'Status', cell: (m) => <Status value={m.status} /> },
          { header: 'Accepted', cell: (m) => <Time iso={m.createdAt} /> },
        ]}
      />
      {list.loading && <Loading what="messages" />}
      <MoreButton more={list.more} loading={list.loading} />
    </Section>
  );
}

export function MessagePage({ id }: { id: string }) {
  const message = useLoad((client) => must(client.GET('/v1/messages/{id}', { params: { path: { id } } })), [id]);
  const deliveries = usePaged(
    (client, cursor) => must(client.GET('/v1/messages/{id}/deliveries', { params: { path: { id }, query: { limit: 50, cursor } } })),
    [id],
  );
  return (
    <>
      <p>
        <a href="#/messages">← Messages</a>
      </p>
      <Section title={`Message ${id}`}>
        <ErrorNote message={message.error} />
        {message.data && (
          <>
            <dl class="facts">
              <dt>Event type</dt>
              <dd>{message.data.type}</dd>
              <dt>Status</dt>
              <dd>
                <Status value={message.data.status} />
              </dd>
              <dt>Accepted</dt>
              <dd>
                <Time iso={message.data.createdAt} />
              </dd>
            </dl>
            <h3>Payload</h3>
            <pre>{JSON.stringify(message.data.payload, null, 2)}</pre>
          </>
        )}
      </Section>
      <Section title="Deliveries" actions={<RefreshButton onClick={deliveries.reload} />}>
        <ErrorNote message={deliveries.error} />
        <DeliveryRows rows={deliveries.rows} />
        {deliveries.loading && <Loading what="deliveries" />}
        <MoreButton more={deliveries.more} loading={deliveries.loading} />
      </Section>
    </>
  );
}

export function DeliveryPage({ id }: { id: string }) {
  const { client, canManage } = usePortal();
  const delivery = useLoad((c) => must(c.GET('/v1/deliveries/{id}', { params: { path: { id } } })), [id]);
  const d = delivery.data;
  const retry = async () => {
    await must(client.POST('/v1/deliveries/{id}/retry', { params: { path: { id } } }));
    return 'Retry queued';
  };
  return (
    <>
      <p>{d && <a href={`#/messages/${d.messageId}`}>← Message {d.messageId}</a>}</p>
      <Section
        title={`Delivery ${id}`}
        actions={
          <>
            <RefreshButton onClick={delivery.reload} />
            {canManage && d && d.status !== 'succeeded' && d.status !== 'acknowledged' && (
              <ActionButton label="Retry" variant="primary" run={retry} onDone={() => setTimeout(delivery.reload, 1500)} />
            )}
          </>
        }
      >
        <ErrorNote message={delivery.error} />
        {!d && delivery.loading && <Loading what="the delivery" />}
        {d && (
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <Status value={d.status} />
            </dd>
            <dt>Endpoint</dt>
            <dd>
              <a href={`#/endpoints/${d.endpointId}`}>{d.endpointId}</a>
            </dd>
            <dt>Event type</dt>
            <dd>{d.eventType}</dd>
            <dt>Attempts</dt>
            <dd>{d.attemptCount}</dd>
            {d.nextAttemptAt && (
              <>
                <dt>Next attempt</dt>
                <dd>
                  <Time iso={d.nextAttemptAt} />
                </dd>
              </>
            )}
          </dl>
        )}
      </Section>
      {d && (
        <Section title="Attempts">
          {d.attempts.length === 0 ? (
            <p class="muted">No attempts: nothing is sent to this endpoint, or nothing has been yet.</p>
          ) : (
            <DataTable
              label="Attempts"
              rows={d.attempts}
              rowKey={(a) => String(a.attempt)}
              columns={[
                { header: '#', cell: (a) => `${a.attempt}${a.trigger === 'manual' ? ' (manual)' : ''}` },
                { header: 'Started', cell: (a) => <Time iso={a.startedAt} /> },
                { header: 'Outcome', cell: (a) => <Status value={a.outcome} /> },
                { header: 'Status code', cell: (a) => a.statusCode ?? '—' },
                { header: 'Duration', cell: (a) => `${a.durationMs} ms` },
                { header: 'Response or error', cell: (a) => a.error ?? excerpt(a.responseBody), excerpt: true },
              ]}
            />
          )}
        </Section>
      )}
      {d && d.events.length > 0 && (
        <Section title="Fetches and acknowledgements">
          <ul class="rows">
            {d.events.map((event) => (
              <li key={`${event.type}-${event.at}`}>
                {event.type} at <Time iso={event.at} /> <span class="muted">by {event.keyId}</span>
              </li>
            ))}
          </ul>
        </Section>
      )}
    </>
  );
}

export function DeadLettersPage() {
  const { client, canManage } = usePortal();
  const list = usePaged((c, cursor) => must(c.GET('/v1/dead-letters', { params: { query: { limit: 50, cursor } } })), []);
  const redrive = (ids?: string[]) => async () => {
    const result = await must(client.POST('/v1/dead-letters/redrive', { body: ids ? { ids } : {} }));
    const skipped = result.skipped.length ? `; ${result.skipped.length} skipped (${result.skipped.map((s) => s.reason).join(', ')})` : '';
    return `Redriven: ${result.redriven.length}${skipped}`;
  };
  return (
    <Section
      title="Dead letters"
      actions={
        <>
          <RefreshButton onClick={list.reload} />
          {/* Always there for a manage session, so its outcome stays on screen once the list it emptied reloads. */}
          {canManage && (
            <ActionButton
              label="Redrive all"
              variant="primary"
              confirm="Send every dead delivery again?"
              run={redrive()}
              onDone={list.reload}
            />
          )}
        </>
      }
    >
      <p class="muted">
        Deliveries that used up their retries. Redrive sends each again, once, from the first attempt of a fresh schedule.
      </p>
      <ErrorNote message={list.error} />
      {list.rows.length === 0 && !list.loading && !list.error && <p class="muted">No dead letters.</p>}
      <ul class="rows">
        {list.rows.map((d) => (
          <li key={d.id}>
            <a href={`#/deliveries/${d.id}`}>{d.id}</a> <Status value={d.status} /> {d.eventType}{' '}
            <span class="muted small">
              to <a href={`#/endpoints/${d.endpointId}`}>{d.endpointId}</a>, last{' '}
              {d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : (d.lastError ?? '—')}
            </span>{' '}
            {canManage && <ActionButton label="Redrive" run={redrive([d.id])} onDone={list.reload} />}
          </li>
        ))}
      </ul>
      {list.loading && <Loading what="dead letters" />}
      <MoreButton more={list.more} loading={list.loading} />
    </Section>
  );
}
