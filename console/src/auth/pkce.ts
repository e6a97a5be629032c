// OAuth 2.0 authorization code with PKCE (RFC 7636): the console is a public client and keeps
// no secret, so each sign-in proves with a one-time verifier that it started the request.

/** base64url without padding, as RFC 7636 and RFC 7515 use it. */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A fresh code verifier: 32 random bytes, 43 characters. */
export function newVerifier(random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  return base64url(random(new Uint8Array(32)));
}

/** The S256 challenge of `verifier`. */
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** What an identity provider's discovery document says about its endpoints. */
export interface ProviderEndpoints {
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint?: string;
}

/** The URL that sends the browser to sign in at the identity provider. */
export function authorizationUrl(
  endpoints: ProviderEndpoints,
  clientId: string,
  redirectUri: string,
  scope: string,
  state: string,
  challenge: string,
): string {
  const url = new URL(endpoints.authorization_endpoint);
  const params: Record<string, string> = {
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

/** The form body that trades an authorization code for tokens. */
export function tokenRequest(code: string, redirectUri: string, clientId: string, verifier: string): URLSearchParams {
  return new URLSearchParams({
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri,
    client_id: clientId,
    code_verifier: verifier,
  });
}
