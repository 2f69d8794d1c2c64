"""Domain core shared by the API, the worker and the workflows: settings, pricing, errors."""
