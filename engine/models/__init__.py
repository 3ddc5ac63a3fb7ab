"""Models: GGUF headers, the hardware probe and backend plan, the store, the catalog,
discovery, the hub and downloads."""
