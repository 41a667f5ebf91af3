/**
 * `<ParleyProvider>`: hands one `ParleyClient` to the hooks below it. Given a client, it uses
 * it as it is (the app closes it); given options, it creates one and closes it on unmount.
 */
import {
  createContext,
  createElement,
  type ReactElement,
  type ReactNode,
  useContext,
  useEffect,
  useRef,
  useState,
} from "react";
import { createParleyClient, type ParleyClient, type ParleyClientOptions } from "../client.ts";
import { ParleyClientError } from "../errors.ts";

const ParleyContext = createContext<ParleyClient | null>(null);

/** Props of {@link ParleyProvider}: a `client`, or the `options` to create one. */
export interface ParleyProviderProps {
  /** A client the app created (and closes). Takes precedence over `options`. */
  client?: ParleyClient;
  /**
   * Options of `createParleyClient`: the provider creates the client on mount and closes it
   * (its conversations and inbox) on unmount. Read once: to sign in as someone else, remount
   * the provider (give it a `key`).
   */
  options?: ParleyClientOptions;
  children?: ReactNode;
}

interface Owned {
  client: ParleyClient;
  /** Closed for good. */
  closed: boolean;
  /** Unmounted: closed at the next microtask unless mounted again first. */
  closing: boolean;
}

/**
 * Provides a Parley client to `useConversation`, `useInbox` and `useParleyClient`.
 *
 * ```tsx
 * <ParleyProvider options={{ url: "https://chat.example.com", token: getToken }}>
 *   <Chat />
 * </ParleyProvider>
 * ```
 */
export function ParleyProvider({ client, options, children }: ParleyProviderProps): ReactElement {
  const owned = useRef<Owned | null>(null);
  const latest = useRef(options);
  latest.current = options;
  const [, rerender] = useState(0);
  if (!client && !owned.current) owned.current = { client: create(options), closed: false, closing: false };
  useEffect(() => {
    if (client) return;
    let mine = owned.current;
    if (mine && !mine.closed) {
      // StrictMode's unmount-and-mount: the same client, its connections untouched.
      mine.closing = false;
    } else {
      // Mounted again after the client was closed (a Suspense boundary, an Activity): a new one.
      mine = { client: create(latest.current), closed: false, closing: false };
      owned.current = mine;
      rerender((n) => n + 1);
    }
    const current = mine;
    return () => {
      current.closing = true;
      queueMicrotask(() => {
        if (!current.closing) return;
        current.closed = true;
        current.client.close();
      });
    };
  }, [client]);
  const value = client ?? (owned.current as Owned).client;
  return createElement(ParleyContext.Provider, { value }, children);
}

function create(options: ParleyClientOptions | undefined): ParleyClient {
  if (!options) {
    throw new ParleyClientError("config", "ParleyProvider: pass a client or the options to create one");
  }
  return createParleyClient(options);
}

/** The client of the nearest {@link ParleyProvider}; throws outside one. */
export function useParleyClient(): ParleyClient {
  const client = useContext(ParleyContext);
  if (!client)
    throw new ParleyClientError("config", "parley/react: wrap your components in <ParleyProvider>");
  return client;
}
