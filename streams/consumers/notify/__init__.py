"""Alert delivery: subscriptions (file + HTTP API), filters, grouping, signed webhooks and email, retries,
dead letters, and a durable record of what each subscriber already received. See docs/notify.md."""
