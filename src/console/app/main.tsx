import './browser-shims';
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { apiBaseUrl, apiClient } from './api';
import { ConnectionsPage } from './pages/connections';
import { DashboardPage } from './pages/dashboard';
import { DefinitionPage } from './pages/definition';
import { WizardPage } from './pages/wizard';
import { canChange, detectAccess, storeFunctionKey, storedFunctionKey, type Access } from './session';
import { Console, TextField, type ConsoleContext } from './ui';
import './styles.css';

/** The admin console: hash routes, so the function app serves one page for all of them. */

type Route = { page: 'dashboard' } | { page: 'connections' } | { page: 'wizard'; id?: string } | { page: 'definition'; id: string };

function parseRoute(hash: string): Route {
  const [, page, id] = hash.replace(/^#/, '').split('/');
  if (page === 'connections') return { page: 'connections' };
  if (page === 'wizard') return { page: 'wizard', id: id ? decodeURIComponent(id) : undefined };
  if (page === 'definitions' && id) return { page: 'definition', id: decodeURIComponent(id) };
  return { page: 'dashboard' };
}

const NAV: Array<{ href: string; label: string; page: Route['page'] }> = [
  { href: '#/', label: 'Dashboard', page: 'dashboard' },
  { href: '#/connections', label: 'Connections', page: 'connections' },
  { href: '#/wizard', label: 'New definition', page: 'wizard' },
];

function KeyForm({ onKey }: { onKey(key: string): void }) {
  const [key, setKey] = useState('');
  return (
    <form
      class="card key-form"
      aria-labelledby="key-title"
      onSubmit={(e) => {
        e.preventDefault();
        if (key.trim()) onKey(key.trim());
      }}
    >
      <h2 id="key-title">Sign in with the function key</h2>
      <p>The management API needs its function key. It is kept for this browser tab only (sessionStorage).</p>
      <TextField label="Function key" type="password" value={key} onInput={setKey} required hint="locally: the LOCAL_FUNCTION_KEY setting" />
      <button type="submit" class="primary">
        Use this key
      </button>
    </form>
  );
}

function App() {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  const [access, setAccess] = useState<Access | null>(null);
  const [message, setMessage] = useState('');
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    void detectAccess(location.origin).then(setAccess);
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  // A new page moves focus to its heading, so keyboard and screen-reader users start there.
  useEffect(() => heading.current?.focus(), [route.page, (route as { id?: string }).id]);

  const context = useMemo<ConsoleContext | null>(() => {
    if (!access) return null;
    const api = apiClient(apiBaseUrl(location), storedFunctionKey, () => {
      storeFunctionKey(null);
      setAccess({ ...access, key: null });
    });
    return { api, canChange: canChange(access), announce: (text) => setMessage(text) };
  }, [access]);

  const needsKey = access !== null && !access.key;
  const title = { dashboard: 'Dashboard', connections: 'Connections', wizard: 'Definition wizard', definition: `Definition ${(route as { id?: string }).id ?? ''}` }[route.page];

  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), heading.current?.focus())}>
        Skip to content
      </a>
      <header>
        <p class="brand">SQL → SharePoint sync</p>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.href}>
                <a href={n.href} aria-current={route.page === n.page ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <p class="who">
          {access?.entra && `${access.entra.user} (${access.entra.roles.join(', ') || 'no roles'})`}
          {access?.key && !access.entra && 'function key set'}
          {access?.key && (
            <button
              type="button"
              class="link"
              onClick={() => {
                storeFunctionKey(null);
                setAccess({ ...access, key: null });
              }}
            >
              Forget key
            </button>
          )}
        </p>
      </header>
      <main id="main">
        <h1 tabIndex={-1} ref={heading}>
          {title}
        </h1>
        {!access || !context ? (
          <p role="status">Connecting…</p>
        ) : needsKey ? (
          <KeyForm
            onKey={(key) => {
              storeFunctionKey(key);
              setAccess({ ...access!, key });
            }}
          />
        ) : (
          <Console.Provider value={context}>
            {route.page === 'dashboard' && <DashboardPage />}
            {route.page === 'connections' && <ConnectionsPage />}
            {route.page === 'wizard' && <WizardPage key={route.id ?? 'new'} editId={route.id} />}
            {route.page === 'definition' && <DefinitionPage key={route.id} id={route.id} />}
          </Console.Provider>
        )}
      </main>
      <div class="sr-live" role="status" aria-live="polite" data-testid="announcer">
        {message}
      </div>
    </>
  );
}

render(<App />, document.getElementById('app')!);
