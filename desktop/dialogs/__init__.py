"""The dialogs: the model manager, settings and help."""
