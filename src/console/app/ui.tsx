import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useId, useState } from 'preact/hooks';
import { ApiError, type ApiClient } from './api';

/** Building blocks every page uses: labelled fields, messages in live regions, loading data. */

export interface ConsoleContext {
  api: ApiClient;
  /** False for read-only Entra users: pages render no controls that change things. */
  canChange: boolean;
  /** Says a result aloud through the page's polite live region. */
  announce(message: string): void;
}

export const Console = createContext<ConsoleContext>(null as unknown as ConsoleContext);
export const useConsole = () => useContext(Console);

export function errorLines(error: unknown): string[] {
  return error instanceof ApiError ? error.describe() : [(error as Error).message];
}

/** Loads once (and again on `reload`); the error is kept to be shown, not thrown. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data?: T; error?: unknown; reload(): void; loading: boolean } {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => current && setState({ data, loading: false }),
      (error: unknown) => current && setState({ error, loading: false }),
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, round]);
  return { ...state, reload: useCallback(() => setRound((r) => r + 1), []) };
}

/** Runs an action, keeping its error for display and announcing success. */
export function useAction<A extends unknown[], T>(action: (...args: A) => Promise<T>, success?: (result: T) => string) {
  const { announce } = useConsole();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = async (...args: A): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      const result = await action(...args);
      if (success) announce(success(result));
      return result;
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error };
}

export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const [first, ...rest] = errorLines(error);
  return (
    <div role="alert" class="error">
      <p>{first}</p>
      {rest.length > 0 && (
        <ul>
          {rest.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p role="status">Loading {what}…</p>;
}

interface FieldProps {
  label: string;
  value: string;
  onInput(value: string): void;
  hint?: string;
  type?: 'text' | 'number' | 'password';
  required?: boolean;
  disabled?: boolean;
}

export function TextField({ label, value, onInput, hint, type = 'text', required, disabled }: FieldProps) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} type={type as 'text'} value={value} required={required} disabled={disabled} aria-describedby={hint ? `${id}-hint` : undefined} onInput={(e) => onInput(e.currentTarget.value)} />
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
    </div>
  );
}

interface SelectProps {
  label: string;
  value: string;
  options: Array<{ value: string; label: string }>;
  onChange(value: string): void;
  hint?: string;
}

export function SelectField({ label, value, options, onChange, hint }: SelectProps) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} aria-describedby={hint ? `${id}-hint` : undefined} onChange={(e) => onChange(e.currentTarget.value)}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
    </div>
  );
}

export function CheckboxField({ label, checked, onChange }: { label: string; checked: boolean; onChange(checked: boolean): void }) {
  const id = useId();
  return (
    <div class="check">
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange(e.currentTarget.checked)} />
      <label for={id}>{label}</label>
    </div>
  );
}

/** A button that changes something: absent for read-only users. */
export function ChangeButton({ children, onClick, busy, kind = 'primary' }: { children: ComponentChildren; onClick(): void; busy?: boolean; kind?: 'primary' | 'secondary' | 'danger' }) {
  const { canChange } = useConsole();
  if (!canChange) return null;
  return (
    <button type="button" class={kind} onClick={onClick} disabled={busy} aria-busy={busy ? 'true' : undefined}>
      {children}
    </button>
  );
}

export function Section({ title, children, level = 2 }: { title: string; children: ComponentChildren; level?: 2 | 3 }) {
  const Heading = level === 2 ? 'h2' : 'h3';
  return (
    <section aria-label={title}>
      <Heading>{title}</Heading>
      {children}
    </section>
  );
}

export function formatDuration(startedAt: string, finishedAt?: string | null): string {
  if (!finishedAt) return 'running';
  const ms = new Date(finishedAt).getTime() - new Date(startedAt).getTime();
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A table with its caption (its accessible name) and column headers; rows come as children. */
export function DataTable({ caption, columns, children }: { caption: string; columns: string[]; children: ComponentChildren }) {
  return (
    <table>
      <caption>{caption}</caption>
      <thead>
        <tr>
          {columns.map((c) => (
            <th scope="col" key={c}>
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}
