"""Who may see what: credentials (API keys, OIDC JWTs) mapped to tenants, signed forwarding between workers,
per-credential rate limits, the refusal to serve unauthenticated beyond loopback, and the address rules for
outgoing webhooks. The rules are plain Python here; streams/api/views.py and streams/consumers/notify/admin.py
apply them. docs/security.md describes the configuration."""
