"""The emulator's HTTP layer: the route table (:mod:`.routes`), request and response framing
(:mod:`.framing`) and the server that reads, checks and answers requests (:mod:`.server`)."""
