"""Questions over priced requests (SPEC §6-§9), in portable SQL (SPEC §13)."""
