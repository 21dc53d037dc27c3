"""The worker: claims due work in batches, under leases, and calls the services."""
