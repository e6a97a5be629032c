// The CRM suite's gRPC API for TypeScript and JavaScript.
//
// Each API's messages and service descriptors are imported from their own module, named after
// the proto file (`@crm-suite/client/crm/customers/v1/customers_pb`), and called through
// Connect-ES with the transport that suits the caller: `createGrpcTransport` (Node.js, from
// @connectrpc/connect-node) or `createGrpcWebTransport` (browsers, from
// @connectrpc/connect-web), pointed at the gateway. Every call carries the caller's token; the
// services apply its roles and record rules.
import type { Interceptor } from "@connectrpc/connect";

/** The version of the suite's API this package was generated from (the v1 packages). */
export const API_VERSION = "v1";

/**
 * An interceptor that sends `token` (an OpenID Connect access token, or what `crm token`
 * prints) as the bearer of every call. A function is asked before each call, so a token that
 * is renewed is picked up.
 */
export function bearer(token: string | (() => string | Promise<string>)): Interceptor {
  return (next) => async (req) => {
    const value = typeof token === "function" ? await token() : token;
    req.header.set("authorization", `Bearer ${value}`);
    return next(req);
  };
}
