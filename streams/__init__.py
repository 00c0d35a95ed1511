"""Redis adapters: embedded server, event log, projector, read models, live push."""
