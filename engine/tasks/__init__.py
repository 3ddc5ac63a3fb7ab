"""What the user asks of a model: summaries, code tasks, and the documents they read."""
