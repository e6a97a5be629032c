// The suite's APIs as the signed-in user: every call goes to the gateway over gRPC-Web with
// the user's token, so each service applies its own role, record and field rules.
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { CustomersService } from "../gen/crm/customers/v1/customers_pb";
import { GatewayService } from "../gen/crm/gateway/v1/gateway_pb";
import { session } from "../auth/session";

/** Adds the signed-in user's token; a call the gateway refuses as unauthenticated signs out. */
const bearer: Interceptor = (next) => async (request) => {
  const token = session.token();
  if (token) request.header.set("authorization", `Bearer ${token}`);
  try {
    return await next(request);
  } catch (err) {
    if (ConnectError.from(err).code === Code.Unauthenticated) session.expired();
    throw err;
  }
};

const transport = createGrpcWebTransport({
  baseUrl: window.location.origin,
  interceptors: [bearer],
  // The gateway answers gRPC-Web in binary.
  useBinaryFormat: true,
});

/** The customers service. */
export const customers = createClient(CustomersService, transport);
/** The gateway's composed views. */
export const gateway = createClient(GatewayService, transport);

/** A failed call as a sentence for the reader: the service's own message, which names the
 * fields at fault. */
export function describe(err: unknown): string {
  const e = ConnectError.from(err);
  return e.rawMessage || Code[e.code];
}
