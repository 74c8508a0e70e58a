/** Event types with their schemas and an example payload of each. */
import { must } from '../api.ts';
import { ErrorNote, Loading, MoreButton, Section, usePaged } from '../components.tsx';
import { exampleOf } from '../lib.ts';

export function EventTypesPage() {
  // Sluice's operational events too (after the tenant's own): an endpoint may subscribe to them.
  const list = usePaged(
    (client, cursor) => must(client.GET('/v1/event-types', { params: { query: { limit: 50, cursor, builtIn: 'true' } } })),
    [],
  );
  return (
    <Section title="Event types">
      <ErrorNote message={list.error} />
      {list.rows.length === 0 && !list.loading && !list.error && <p class="muted">No event types yet.</p>}
      {list.rows.map((type) => (
        <article class="event-type" key={type.name} aria-labelledby={`type-${type.name}`}>
          <h3 id={`type-${type.name}`}>
            {type.name} {type.builtIn && <span class="badge neutral">operational</span>}
          </h3>
          {type.description && <p>{type.description}</p>}
          {type.schema ? (
            <div class="two-up">
              <div>
                <h4>Schema</h4>
                <pre>{JSON.stringify(type.schema, null, 2)}</pre>
              </div>
              <div>
                <h4>Example payload</h4>
                <pre>{JSON.stringify(exampleOf(type.schema), null, 2)}</pre>
              </div>
            </div>
          ) : (
            <p class="muted">No schema: any JSON object is accepted.</p>
          )}
        </article>
      ))}
      {list.loading && <Loading what="event types" />}
      <MoreButton more={list.more} loading={list.loading} />
    </Section>
  );
}
