"""Pricing tables (SPEC §5): YAML → validated dated versions → the priced_requests relation."""
