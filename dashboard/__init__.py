"""Dash pages, HTTP API and the `wartime` CLI."""
