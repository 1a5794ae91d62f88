"""HTTP routes (thin adapters over the gateway)."""
