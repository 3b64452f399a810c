"""Results → the user: terminal tables, JSON / CSV / Markdown files."""
