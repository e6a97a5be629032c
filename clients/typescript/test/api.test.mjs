// The packed package, installed as a user installs it, against a running suite: a customer
// created, read back and found through the gateway with a token, and refused without one.
// clients/test runs it with CRM_GATEWAY (host:port) and CRM_TOKEN set.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { API_VERSION, bearer } from "@crm-suite/client";
import { CustomersService, PartyKind } from "@crm-suite/client/crm/customers/v1/customers_pb";

const transport = createGrpcTransport({ baseUrl: `http://${process.env.CRM_GATEWAY}` });

test("a customer is created, read and listed through the gateway", async () => {
  assert.equal(API_VERSION, "v1");
  const customers = createClient(CustomersService, transport);
  const options = { headers: { authorization: `Bearer ${process.env.CRM_TOKEN}` } };
  const { party } = await customers.createParty(
    { party: { kind: PartyKind.ORGANIZATION, organizationName: "Client Package Ltd" } },
    options,
  );
  assert.ok(party.id);
  const read = await customers.getParty({ id: party.id }, options);
  assert.equal(read.party.displayName, "Client Package Ltd");

  // The same through the package's interceptor, which sends the token on every call.
  const authed = createGrpcTransport({ baseUrl: `http://${process.env.CRM_GATEWAY}`, interceptors: [bearer(() => process.env.CRM_TOKEN)] });
  const listed = await createClient(CustomersService, authed).listParties({ pageSize: 500 });
  assert.ok(listed.parties.some((p) => p.id === party.id));
});

test("a call without a token is refused", async () => {
  const customers = createClient(CustomersService, transport);
  await assert.rejects(customers.listParties({ pageSize: 1 }), (err) => {
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.Unauthenticated);
    return true;
  });
});
