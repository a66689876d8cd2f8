"""Beyond one process: the relay (a store's log published to a broker) and the message format
the consumer (inbox) reads back. Core side: no click, no rich; the broker clients (pika,
nats-py) are imported only by the modules that talk to a broker, inside the commands."""
