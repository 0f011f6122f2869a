"""Provider port, adapters (one per provider API family), decision tables, signing and routing."""
