"""The built wheel, installed as a user installs it, against a running suite: a customer created,
read back and found through the gateway with a token, and refused without one. clients/test runs
it with CRM_GATEWAY (host:port) and CRM_TOKEN set."""

import os
import unittest

import grpc

from crm.client import channel
from crm.customers.v1 import customers_pb2 as customers
from crm.customers.v1 import customers_pb2_grpc

GATEWAY = os.environ["CRM_GATEWAY"]
TOKEN = os.environ["CRM_TOKEN"]


class Api(unittest.TestCase):
    def test_a_customer_is_created_read_and_listed_through_the_gateway(self):
        with channel(GATEWAY, lambda: TOKEN, insecure=True) as ch:
            stub = customers_pb2_grpc.CustomersServiceStub(ch)
            party = stub.CreateParty(
                customers.CreatePartyRequest(
                    party=customers.Party(
                        kind=customers.PARTY_KIND_PERSON,
                        given_name="Mei",
                        family_name="Lin",
                    )
                )
            ).party
            self.assertTrue(party.id)
            read = stub.GetParty(customers.GetPartyRequest(id=party.id)).party
            self.assertEqual(read.display_name, "Mei Lin")
            listed = stub.ListParties(customers.ListPartiesRequest(page_size=500))
            self.assertIn(party.id, [p.id for p in listed.parties])

    def test_a_call_without_a_token_is_refused(self):
        with grpc.insecure_channel(GATEWAY) as ch:
            stub = customers_pb2_grpc.CustomersServiceStub(ch)
            with self.assertRaises(grpc.RpcError) as refused:
                stub.ListParties(customers.ListPartiesRequest(page_size=1))
            self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAUTHENTICATED)


if __name__ == "__main__":
    unittest.main()
