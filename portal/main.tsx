/**
 * The Sluice portal: one page, served at /portal, signed in with a portal session link
 * (`/portal#token=pst_…`). The token is read from the fragment, which no browser sends to a server,
 * removed from the address bar at once, and kept in memory only: a reload asks for the link again.
 */
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, clientFor, must, type Schemas } from './api.ts';
import { ErrorNote, type Portal, PortalContext } from './components.tsx';
import { routeOf, tokenFromHash } from './lib.ts';
import { ActionsPage, ApiKeysPage } from './pages/access.tsx';
import { EventTypesPage } from './pages/catalog.tsx';
import { EndpointPage, EndpointsPage } from './pages/endpoints.tsx';
import { DeadLettersPage, DeliveryPage, MessagePage, MessagesPage } from './pages/history.tsx';

const pages = [
  { path: 'endpoints', label: 'Endpoints' },
  { path: 'messages', label: 'Messages' },
  { path: 'dead-letters', label: 'Dead letters' },
  { path: 'event-types', label: 'Event types' },
  { path: 'actions', label: 'Inbound actions' },
  { path: 'api-keys', label: 'API keys', manageOnly: true },
] as const;

function useRoute(): string[] {
  const [route, setRoute] = useState(() => routeOf(window.location.hash));
  useEffect(() => {
    const changed = () => setRoute(routeOf(window.location.hash));
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return route;
}

function Page({ route }: { route: string[] }) {
  const [page, id] = route;
  if (page === 'endpoints' && id) return <EndpointPage id={id} />;
  if (page === 'endpoints') return <EndpointsPage />;
  if (page === 'messages' && id) return <MessagePage id={id} />;
  if (page === 'messages') return <MessagesPage />;
  if (page === 'deliveries' && id) return <DeliveryPage id={id} />;
  if (page === 'dead-letters') return <DeadLettersPage />;
  if (page === 'event-types') return <EventTypesPage />;
  if (page === 'actions') return <ActionsPage />;
  if (page === 'api-keys') return <ApiKeysPage />;
  return <ErrorNote message="No such page." />;
}

function SignIn({ reason, onToken }: { reason: string | undefined; onToken: (token: string) => void }) {
  const [token, setToken] = useState('');
  return (
    <main id="main" class="sign-in">
      <h1>Sluice portal</h1>
      <ErrorNote message={reason} />
      <p>Open the portal link you were given. Or paste a portal session token:</p>
      <form
        class="form"
        onSubmit={(event) => {
          event.preventDefault();
          if (token.trim()) onToken(token.trim());
        }}
      >
        <label>
          Portal session token
          <input type="password" autoComplete="off" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}

function App() {
  // Read once, then gone from the address bar (and from this history entry).
  const [token, setToken] = useState<string | undefined>(() => {
    const found = tokenFromHash(window.location.hash);
    if (found) window.history.replaceState(null, '', `${window.location.pathname}#/endpoints`);
    return found;
  });
  const [session, setSession] = useState<Schemas['CurrentPortalSession'] | undefined>();
  const [reason, setReason] = useState<string | undefined>();
  const route = useRoute();
  const client = useMemo(() => (token ? clientFor(token) : undefined), [token]);

  useEffect(() => {
    if (!client) return;
    must(client.GET('/v1/portal-sessions/current')).then(setSession, (error: unknown) => {
      setToken(undefined);
      setReason(error instanceof ApiError ? error.message : String(error));
    });
  }, [client]);

  const portal = useMemo<Portal | undefined>(
    () =>
      client && session
        ? {
            client,
            session,
            canManage: session.capability === 'manage',
            signOut: (why) => {
              setToken(undefined);
              setSession(undefined);
              setReason(why);
            },
          }
        : undefined,
    [client, session],
  );

  if (!token) return <SignIn reason={reason} onToken={setToken} />;
  if (!portal) return <p role="status">Signing in…</p>;
  const current = route[0] === 'deliveries' ? 'messages' : route[0];
  return (
    <PortalContext.Provider value={portal}>
      {/* A button, not a link: the fragment names the page here, so `#main` would be read as one. */}
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <div class="brand">
          <strong>{portal.session.tenantName}</strong>
          <span class="muted small">
            {' '}
            · {portal.canManage ? 'can manage' : 'read only'} · until {portal.session.expiresAt.slice(11, 16)} UTC
          </span>
        </div>
        <nav aria-label="Portal">
          <ul>
            {pages
              .filter((page) => !('manageOnly' in page) || portal.canManage)
              .map((page) => (
                <li key={page.path}>
                  <a href={`#/${page.path}`} aria-current={current === page.path ? 'page' : undefined}>
                    {page.label}
                  </a>
                </li>
              ))}
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </PortalContext.Provider>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
