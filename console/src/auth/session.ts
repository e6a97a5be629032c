// Who is signed in: the token the gateway's services verify, kept for this browser tab only.
import { authorizationUrl, challengeOf, newVerifier, tokenRequest, type ProviderEndpoints } from "./pkce";

/** What `/console-config.json` says. */
export interface ConsoleSettings {
  oidc: { issuer: string; clientId: string; scope: string } | null;
  devSignIn: boolean;
  roles: string[];
}

/** The parts of a token's claims the console shows and routes by. */
export interface Identity {
  user: string;
  roles: string[];
  partnerId?: string;
  customerId?: string;
}

const TOKEN = "crm.token";
const PENDING = "crm.signIn";
type Listener = () => void;
const listeners = new Set<Listener>();

/** The claims of a JWT (not verified here: the services verify it). */
export function claimsOf(token: string): Identity | null {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
    const json = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    const roles = Array.isArray(json.roles) ? (json.roles as string[]) : [];
    return {
      user: String(json.sub ?? ""),
      roles,
      partnerId: json.partner_id as string | undefined,
      customerId: json.customer_id as string | undefined,
    };
  } catch {
    return null;
  }
}

export const session = {
  token(): string | null {
    return sessionStorage.getItem(TOKEN);
  },
  identity(): Identity | null {
    const token = this.token();
    return token ? claimsOf(token) : null;
  },
  set(token: string) {
    sessionStorage.setItem(TOKEN, token);
    listeners.forEach((l) => l());
  },
  signOut() {
    sessionStorage.removeItem(TOKEN);
    listeners.forEach((l) => l());
  },
  /** The token was refused: sign in again. */
  expired() {
    this.signOut();
  },
  subscribe(listener: Listener): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

/** The console's sign-in settings. */
export async function loadSettings(): Promise<ConsoleSettings> {
  const response = await fetch("/console-config.json");
  if (!response.ok) throw new Error(`console settings: HTTP ${response.status}`);
  return (await response.json()) as ConsoleSettings;
}

/** `crm up`'s development sign-in: a token for `role` and `user`. */
export async function devSignIn(fields: Record<string, string>): Promise<void> {
  const query = new URLSearchParams(Object.entries(fields).filter(([, v]) => v.trim() !== ""));
  const response = await fetch(`/console/dev-token?${query}`);
  if (!response.ok) throw new Error(await response.text());
  session.set(((await response.json()) as { token: string }).token);
}

const redirectUri = () => `${window.location.origin}/signed-in`;

async function endpoints(issuer: string): Promise<ProviderEndpoints> {
  const response = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`the identity provider's discovery document: HTTP ${response.status}`);
  return (await response.json()) as ProviderEndpoints;
}

/** Sends the browser to the identity provider (authorization code with PKCE). */
export async function startSignIn(oidc: NonNullable<ConsoleSettings["oidc"]>): Promise<void> {
  const found = await endpoints(oidc.issuer);
  const verifier = newVerifier();
  const state = newVerifier();
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state }));
  window.location.assign(
    authorizationUrl(found, oidc.clientId, redirectUri(), oidc.scope, state, await challengeOf(verifier)),
  );
}

/** Completes a sign-in the identity provider sent the browser back from. */
export async function finishSignIn(oidc: NonNullable<ConsoleSettings["oidc"]>, params: URLSearchParams): Promise<void> {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? "null") as { verifier: string; state: string } | null;
  sessionStorage.removeItem(PENDING);
  const error = params.get("error");
  if (error) throw new Error(params.get("error_description") ?? error);
  if (!pending || params.get("state") !== pending.state) throw new Error("the sign-in was not started here");
  const found = await endpoints(oidc.issuer);
  const response = await fetch(found.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: tokenRequest(params.get("code") ?? "", redirectUri(), oidc.clientId, pending.verifier),
  });
  if (!response.ok) throw new Error(`the identity provider refused the code: HTTP ${response.status}`);
  const tokens = (await response.json()) as { access_token: string };
  session.set(tokens.access_token);
}
