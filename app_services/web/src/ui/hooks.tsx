import { useCallback, useEffect, useState, type ReactNode } from "react";
import { ApiError } from "../lib/api";
import { href, parseRoute } from "../lib/routes";

export type Async<T> =
  | { status: "loading" }
  | { status: "error"; error: unknown }
  | { status: "ready"; data: T };

/** Run `load` when `deps` change; stale results of an earlier run are dropped. */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<Async<T>>({ status: "loading" });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    setState({ status: "loading" });
    load(abort.signal).then(
      (data) => !abort.signal.aborted && setState({ status: "ready", data }),
      (error: unknown) => !abort.signal.aborted && setState({ status: "error", error }),
    );
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { state, reload, setState };
}

export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.friendly;
  return error instanceof Error ? error.message : String(error);
}

/** Loading, error (with retry) and empty states; `children` renders the data. */
export function Loaded<T>(props: {
  state: Async<T>;
  retry?: () => void;
  empty?: (data: T) => boolean;
  emptyText?: string;
  children: (data: T) => ReactNode;
}) {
  const { state } = props;
  if (state.status === "loading") {
    return (
      <p className="muted" role="status">
        Loading…
      </p>
    );
  }
  if (state.status === "error") {
    return (
      <div className="error" role="alert">
        <p>{describe(state.error)}</p>
        {props.retry && (
          <button type="button" onClick={props.retry}>
            Retry
          </button>
        )}
      </div>
    );
  }
  if (props.empty?.(state.data)) return <p className="muted">{props.emptyText ?? "Nothing here yet."}</p>;
  return <>{props.children(state.data)}</>;
}

export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

/** The hash route (`lib/routes.ts`), following `hashchange`. */
export function useRoute(): string[] {
  const read = () => parseRoute(window.location.hash);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const update = () => setRoute(read());
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}

export { href };
