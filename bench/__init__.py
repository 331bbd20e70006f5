"""`make bench`: load tests of the suite next to a bare gRPC floor and peer gateways."""
