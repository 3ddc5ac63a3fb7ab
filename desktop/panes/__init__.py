"""The three work panes: Chat, Summarize and Code, and the widgets only they use."""
