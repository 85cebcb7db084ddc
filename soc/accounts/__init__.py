"""Accounts: users, API tokens, console sessions and preferences, the login limiter and notification
subscriptions (webhooks, e-mail), all stored in ``soc-users``. api → service → store."""
