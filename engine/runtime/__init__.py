"""The runtime: the client and its worker process, loading, context fitting, chat templates,
text streaming and the inference backends."""
