"""The public request and answer shapes, validated alike by the API and the CLI."""
