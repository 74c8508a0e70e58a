/** Inbound actions with their trigger URLs, and API keys (a `manage` session's only). */
import { useState } from 'preact/hooks';
import { must, type Schemas } from '../api.ts';
import {
  ActionButton,
  CopyButton,
  DataTable,
  ErrorNote,
  Loading,
  MoreButton,
  Reveal,
  Section,
  Time,
  useLoad,
  usePaged,
  usePortal,
} from '../components.tsx';

const targetOf = (target: Schemas['Action']['target']) =>
  'deviceId' in target ? `device ${target.deviceId}` : 'group' in target ? `group ${target.group}` : 'every device';

export function ActionsPage() {
  const { canManage } = usePortal();
  const list = usePaged((client, cursor) => must(client.GET('/v1/actions', { params: { query: { limit: 50, cursor } } })), []);
  // Trigger URLs carry an inbound key, so only a `manage` session may see one, and it lists the keys to choose from.
  const keys = useLoad(
    async (client) => (canManage ? (await must(client.GET('/v1/api-keys', { params: { query: { limit: 100 } } }))).data : []),
    [canManage],
  );
  const inboundKeys = (keys.data ?? []).filter((key) => key.scopes.includes('inbound') || key.scopes.includes('admin'));
  return (
    <Section title="Inbound actions">
      <p class="muted">Third parties trigger these with an inbound key: a POST with the key in a header, or a GET of the trigger URL.</p>
      <ErrorNote message={list.error ?? keys.error} />
      {list.rows.length === 0 && !list.loading && !list.error && <p class="muted">No actions yet.</p>}
      <ul class="rows">
        {list.rows.map((action) => (
          <li key={action.id}>
            <strong>{action.name}</strong> <span class="muted small">({action.id})</span>
            <div class="small">
              On <code>{action.eventId}</code>: {action.action} on {targetOf(action.target)}
            </div>
            {canManage && <TriggerUrl actionId={action.id} keys={inboundKeys} />}
          </li>
        ))}
      </ul>
      {!canManage && <p class="muted">Trigger URLs carry a key: a session that may manage shows them.</p>}
      {list.loading && <Loading what="actions" />}
      <MoreButton more={list.more} loading={list.loading} />
    </Section>
  );
}

function TriggerUrl({ actionId, keys }: { actionId: string; keys: readonly Schemas['ApiKey'][] }) {
  const { client } = usePortal();
  const [keyId, setKeyId] = useState('');
  const [url, setUrl] = useState<string | undefined>();
  const chosen = keyId || keys[0]?.id || '';
  if (keys.length === 0) return <p class="muted small">No key with the inbound scope: create one to get a trigger URL.</p>;
  const generate = async () => {
    setUrl((await must(client.GET('/v1/actions/{id}/trigger-url', { params: { path: { id: actionId }, query: { keyId: chosen } } }))).url);
  };
  return (
    <div class="trigger">
      <label class="inline">
        Key{' '}
        <select value={chosen} onChange={(e) => setKeyId((e.target as HTMLSelectElement).value)}>
          {keys.map((key) => (
            <option key={key.id} value={key.id}>
              {key.name} ({key.key})
            </option>
          ))}
        </select>
      </label>{' '}
      <ActionButton label="Show trigger URL" run={generate} />
      {url && (
        <div class="secret">
          <Reveal label="Trigger URL" value={url} />
          <CopyButton value={url} label="Copy URL" />
        </div>
      )}
    </div>
  );
}

export function ApiKeysPage() {
  const { canManage } = usePortal();
  const list = usePaged((client, cursor) => must(client.GET('/v1/api-keys', { params: { query: { limit: 50, cursor } } })), []);
  if (!canManage) return <ErrorNote message="API keys are shown to sessions that may manage only." />;
  return (
    <Section title="API keys">
      <ErrorNote message={list.error} />
      <DataTable
        label="API keys"
        rows={list.rows}
        rowKey={(key) => key.id}
        columns={[
          { header: 'Name', cell: (key) => key.name },
          { header: 'Scopes', cell: (key) => key.scopes.join(', ') },
          { header: 'Key', cell: (key) => <code>{key.key}</code> },
          { header: 'Last used', cell: (key) => <Time iso={key.lastUsedAt} /> },
          { header: <span class="visually-hidden">Actions</span>, cell: (key) => <KeyActions apiKey={key} onDeleted={list.reload} /> },
        ]}
      />
      {list.loading && <Loading what="keys" />}
      <MoreButton more={list.more} loading={list.loading} />
    </Section>
  );
}

/** View (the full key, fetched only when asked and kept in this component alone), copy and delete. */
function KeyActions({ apiKey, onDeleted }: { apiKey: Schemas['ApiKey']; onDeleted: () => void }) {
  const { client } = usePortal();
  const [full, setFull] = useState<string | undefined>();
  const reveal = async () => {
    setFull((await must(client.GET('/v1/api-keys/{id}/reveal', { params: { path: { id: apiKey.id } } }))).key);
  };
  const remove = async () => {
    await must(client.DELETE('/v1/api-keys/{id}', { params: { path: { id: apiKey.id } } }));
    return 'Deleted';
  };
  return (
    <div class="buttons">
      {full ? (
        <>
          <Reveal label={`API key ${apiKey.name}`} value={full} />
          <CopyButton value={full} />
          <button type="button" class="plain" onClick={() => setFull(undefined)}>
            Hide
          </button>
        </>
      ) : (
        <ActionButton label="View" run={reveal} />
      )}
      <ActionButton
        label="Delete"
        variant="danger"
        confirm={`Delete the key “${apiKey.name}”? It stops working at once.`}
        run={remove}
        onDone={onDeleted}
      />
    </div>
  );
}
