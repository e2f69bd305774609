"""How the warehouse is driven: the HTTP query API and the Kafka consumer."""
