"""Alerts: routing matches to channels, the outbox dispatcher, email and webhook delivery."""
