"""The engine joins the domain to the store: commands, the one read path, subscriptions."""
