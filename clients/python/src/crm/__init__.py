"""The CRM suite's gRPC API: each v1 package's messages (``*_pb2``) and stubs (``*_pb2_grpc``),
generated from the suite's ``proto/``, and :mod:`crm.client` to call the gateway."""
