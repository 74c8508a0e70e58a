/** Endpoints: the list, a new one, and one endpoint with its secret, its deliveries and its last 24 h. */
import { useState } from 'preact/hooks';
import { must, type Schemas } from '../api.ts';
import {
  ActionButton,
  CopyButton,
  DataTable,
  DeliveryChart,
  ErrorNote,
  Loading,
  MoreButton,
  RefreshButton,
  Reveal,
  Section,
  Status,
  Time,
  useLoad,
  usePaged,
  usePortal,
} from '../components.tsx';

type Endpoint = Schemas['Endpoint'];

const where = (endpoint: Endpoint) => endpoint.url ?? `${endpoint.mode} endpoint (pulled through the inbox)`;

/** `a, b` → `['a', 'b']`; empty → undefined (every event type). */
function typesOf(text: string): string[] | undefined {
  const types = text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  return types.length ? types : undefined;
}

interface FieldValues {
  url: string;
  types: string;
  description: string;
}

function useEndpointFields(initial: FieldValues) {
  const [values, set] = useState(initial);
  return {
    values,
    set,
    update: (name: keyof FieldValues) => (e: Event) => set({ ...values, [name]: (e.target as HTMLInputElement).value }),
  };
}

/** The fields a new endpoint and an edit share; a poll endpoint has no URL. */
function EndpointFields({ fields, withUrl }: { fields: ReturnType<typeof useEndpointFields>; withUrl: boolean }) {
  return (
    <>
      {withUrl && (
        <label>
          URL
          <input type="url" required placeholder="https://example.com/webhooks" value={fields.values.url} onInput={fields.update('url')} />
        </label>
      )}
      <label>
        Event types <span class="muted">(comma-separated; empty for every type)</span>
        <input type="text" value={fields.values.types} onInput={fields.update('types')} />
      </label>
      <label>
        Description
        <input type="text" value={fields.values.description} onInput={fields.update('description')} />
      </label>
    </>
  );
}

export function EndpointsPage() {
  const { canManage } = usePortal();
  const list = usePaged((client, cursor) => must(client.GET('/v1/endpoints', { params: { query: { limit: 50, cursor } } })), []);
  return (
    <>
      <Section title="Endpoints">
        <ErrorNote message={list.error} />
        {list.rows.length === 0 && !list.loading && !list.error && <p class="muted">No endpoints yet.</p>}
        <ul class="rows">
          {list.rows.map((endpoint) => (
            <li key={endpoint.id}>
              <a href={`#/endpoints/${endpoint.id}`}>{where(endpoint)}</a> <Status value={endpoint.disabled ? 'disabled' : 'enabled'} />
              <div class="muted small">
                {endpoint.id} · {endpoint.eventTypes?.join(', ') ?? 'every event type'}
                {endpoint.description ? ` · ${endpoint.description}` : ''}
              </div>
            </li>
          ))}
        </ul>
        {list.loading && <Loading what="endpoints" />}
        <MoreButton more={list.more} loading={list.loading} />
      </Section>
      {canManage && <NewEndpoint onCreated={list.reload} />}
    </>
  );
}

function NewEndpoint({ onCreated }: { onCreated: () => void }) {
  const { client } = usePortal();
  const [mode, setMode] = useState<'full' | 'thin' | 'poll'>('full');
  const fields = useEndpointFields({ url: '', types: '', description: '' });
  const { url, types, description } = fields.values;
  const [created, setCreated] = useState<Schemas['CreatedEndpoint'] | undefined>();
  const create = async () => {
    const eventTypes = typesOf(types);
    const endpoint = await must(
      client.POST('/v1/endpoints', {
        body: {
          mode,
          ...(mode !== 'poll' && { url }),
          ...(eventTypes && { eventTypes }),
          ...(description && { description }),
        },
      }),
    );
    setCreated(endpoint);
    fields.set({ url: '', types: '', description: '' });
    return `Created ${endpoint.id}`;
  };
  return (
    <Section title="New endpoint">
      <form
        class="form"
        onSubmit={(event) => {
          event.preventDefault();
        }}
      >
        <label>
          Mode
          <select value={mode} onChange={(e) => setMode((e.target as HTMLSelectElement).value as typeof mode)}>
            <option value="full">full: the event, signed</option>
            <option value="thin">thin: a signed ping, the receiver fetches</option>
            <option value="poll">poll: nothing sent, pulled through the inbox</option>
          </select>
        </label>
        <EndpointFields fields={fields} withUrl={mode !== 'poll'} />
        <ActionButton label="Create endpoint" variant="primary" run={create} onDone={onCreated} />
      </form>
      {created && (
        <p>
          <a href={`#/endpoints/${created.id}`}>Open {created.id}</a>
        </p>
      )}
    </Section>
  );
}

export function EndpointPage({ id }: { id: string }) {
  const { canManage } = usePortal();
  const endpoint = useLoad((client) => must(client.GET('/v1/endpoints/{id}', { params: { path: { id } } })), [id]);
  if (endpoint.loading && !endpoint.data) return <Loading what="the endpoint" />;
  if (!endpoint.data) return <ErrorNote message={endpoint.error} />;
  const e = endpoint.data;
  return (
    <>
      <p>
        <a href="#/endpoints">← Endpoints</a>
      </p>
      <Section title={where(e)} actions={<Status value={e.disabled ? 'disabled' : 'enabled'} />}>
        <dl class="facts">
          <dt>Id</dt>
          <dd>{e.id}</dd>
          <dt>Mode</dt>
          <dd>{e.mode}</dd>
          <dt>Event types</dt>
          <dd>{e.eventTypes?.join(', ') ?? 'every event type'}</dd>
          <dt>Description</dt>
          <dd>{e.description ?? '—'}</dd>
          {e.disabledReason && (
            <>
              <dt>Disabled because</dt>
              <dd>{e.disabledReason}</dd>
            </>
          )}
          {e.failingSince && (
            <>
              <dt>Failing since</dt>
              <dd>
                <Time iso={e.failingSince} />
              </dd>
            </>
          )}
          <dt>Created</dt>
          <dd>
            <Time iso={e.createdAt} />
          </dd>
        </dl>
        {canManage && <EndpointActions endpoint={e} onChange={endpoint.reload} />}
      </Section>
      {canManage && <EditEndpoint endpoint={e} onSaved={endpoint.reload} />}
      {canManage && <SigningSecret id={e.id} />}
      <Stats id={e.id} />
      <EndpointDeliveries id={e.id} />
    </>
  );
}

function EndpointActions({ endpoint, onChange }: { endpoint: Endpoint; onChange: () => void }) {
  const { client } = usePortal();
  const setDisabled = (disabled: boolean) => async () => {
    await must(client.PATCH('/v1/endpoints/{id}', { params: { path: { id: endpoint.id } }, body: { disabled } }));
    return disabled ? 'Disabled' : 'Enabled';
  };
  const test = async () => {
    const result = await must(client.POST('/v1/endpoints/{id}/test', { params: { path: { id: endpoint.id } } }));
    return `Test event ${result.message.id}: ${result.outcome}${result.statusCode ? ` (HTTP ${result.statusCode})` : ''}${result.error ? `: ${result.error}` : ''}`;
  };
  return (
    <div class="buttons">
      {endpoint.disabled ? (
        <ActionButton label="Enable" variant="primary" run={setDisabled(false)} onDone={onChange} />
      ) : (
        <ActionButton
          label="Disable"
          variant="danger"
          confirm="Disable this endpoint? Nothing is sent to it until it is enabled."
          run={setDisabled(true)}
          onDone={onChange}
        />
      )}
      {endpoint.mode !== 'poll' && <ActionButton label="Send test event" run={test} />}
    </div>
  );
}

function EditEndpoint({ endpoint, onSaved }: { endpoint: Endpoint; onSaved: () => void }) {
  const { client } = usePortal();
  const fields = useEndpointFields({
    url: endpoint.url ?? '',
    types: endpoint.eventTypes?.join(', ') ?? '',
    description: endpoint.description ?? '',
  });
  const { url, types, description } = fields.values;
  const save = async () => {
    await must(
      client.PATCH('/v1/endpoints/{id}', {
        params: { path: { id: endpoint.id } },
        body: {
          ...(endpoint.mode !== 'poll' && { url }),
          eventTypes: typesOf(types) ?? null,
          description: description || null,
        },
      }),
    );
    return 'Saved';
  };
  return (
    <Section title="Edit">
      <form class="form" onSubmit={(event) => event.preventDefault()}>
        <EndpointFields fields={fields} withUrl={endpoint.mode !== 'poll'} />
        <ActionButton label="Save" variant="primary" run={save} onDone={onSaved} />
      </form>
    </Section>
  );
}

/** The secret is fetched only when asked for, shown until hidden, and never kept anywhere but this component's memory. */
function SigningSecret({ id }: { id: string }) {
  const { client } = usePortal();
  const [secret, setSecret] = useState<string | undefined>();
  const reveal = async () => {
    setSecret((await must(client.GET('/v1/endpoints/{id}/secret', { params: { path: { id } } }))).secret);
  };
  const rotate = async () => {
    await must(client.POST('/v1/endpoints/{id}/secret/rotate', { params: { path: { id } } }));
    setSecret(undefined);
    return 'Rotated: the previous secret keeps signing alongside the new one for 24 h';
  };
  return (
    <Section title="Signing secret">
      {secret ? (
        <div class="secret">
          <Reveal label="Signing secret" value={secret} />
          <CopyButton value={secret} />
          <button type="button" class="plain" onClick={() => setSecret(undefined)}>
            Hide
          </button>
        </div>
      ) : (
        <p class="muted">Hidden. Receivers verify signatures with it (Standard Webhooks).</p>
      )}
      <div class="buttons">
        {!secret && <ActionButton label="Reveal secret" run={reveal} />}
        <ActionButton label="Rotate secret" variant="danger" confirm="Rotate the signing secret?" run={rotate} />
      </div>
    </Section>
  );
}

function Stats({ id }: { id: string }) {
  const stats = useLoad(
    (client) => must(client.GET('/v1/endpoints/{id}/stats', { params: { path: { id }, query: { bucket: 'hour' } } })),
    [id],
  );
  return (
    <Section title="Last 24 hours">
      <ErrorNote message={stats.error} />
      {stats.data ? <DeliveryChart stats={stats.data} /> : stats.loading && <Loading what="the chart" />}
    </Section>
  );
}

export function DeliveryRows({ rows }: { rows: readonly Schemas['Delivery'][] }) {
  return (
    <DataTable
      label="Deliveries"
      rows={rows}
      rowKey={(d) => d.id}
      empty="No deliveries."
      columns={[
        { header: 'Delivery', cell: (d) => <a href={`#/deliveries/${d.id}`}>{d.id}</a> },
        { header: 'Event type', cell: (d) => d.eventType },
        { header: 'Status', cell: (d) => <Status value={d.status} /> },
        { header: 'Last answer', cell: (d) => (d.lastStatusCode !== undefined ? `HTTP ${d.lastStatusCode}` : (d.lastError ?? '—')) },
        { header: 'Attempts', cell: (d) => d.attemptCount },
        { header: 'Created', cell: (d) => <Time iso={d.createdAt} /> },
      ]}
    />
  );
}

function EndpointDeliveries({ id }: { id: string }) {
  const [status, setStatus] = useState<'' | 'pending' | 'succeeded' | 'failed' | 'dead' | 'acknowledged'>('');
  const list = usePaged(
    (client, cursor) =>
      must(
        client.GET('/v1/endpoints/{id}/deliveries', { params: { path: { id }, query: { limit: 50, cursor, ...(status && { status }) } } }),
      ),
    [id, status],
  );
  return (
    <Section
      title="Deliveries"
      actions={
        <>
          <label class="inline">
            Status{' '}
            <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value as typeof status)}>
              <option value="">any</option>
              {['pending', 'succeeded', 'failed', 'dead', 'acknowledged'].map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <RefreshButton onClick={list.reload} />
        </>
      }
    >
      <ErrorNote message={list.error} />
      <DeliveryRows rows={list.rows} />
      {list.loading && <Loading what="deliveries" />}
      <MoreButton more={list.more} loading={list.loading} />
    </Section>
  );
}
