import { describe, expect, it } from "vitest";
import { authorizationUrl, base64url, challengeOf, newVerifier, tokenRequest } from "./pkce";

describe("PKCE", () => {
  it("derives the S256 challenge of RFC 7636's example", async () => {
    // RFC 7636, appendix B.
    const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    expect(await challengeOf(verifier)).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  });

  it("makes verifiers of 43 URL-safe characters", () => {
    const verifier = newVerifier(() => new Uint8Array(32).fill(255));
    expect(verifier).toHaveLength(43);
    expect(verifier).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(base64url(new Uint8Array([251, 255]))).toBe("-_8");
  });

  it("asks for a code with the challenge and trades it with the verifier", () => {
    const url = new URL(
      authorizationUrl(
        { authorization_endpoint: "https://id.example.com/auth?kc=1", token_endpoint: "https://id.example.com/token" },
        "crm-console",
        "https://crm.example.com/signed-in",
        "openid profile",
        "s1",
        "c1",
      ),
    );
    expect(url.origin + url.pathname).toBe("https://id.example.com/auth");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      kc: "1",
      response_type: "code",
      client_id: "crm-console",
      redirect_uri: "https://crm.example.com/signed-in",
      scope: "openid profile",
      state: "s1",
      code_challenge: "c1",
      code_challenge_method: "S256",
    });
    expect(tokenRequest("code1", "https://crm.example.com/signed-in", "crm-console", "v1").toString()).toBe(
      "grant_type=authorization_code&code=code1&redirect_uri=https%3A%2F%2Fcrm.example.com%2Fsigned-in&client_id=crm-console&code_verifier=v1",
    );
  });
});
