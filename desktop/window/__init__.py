"""The main window and what sits in its frame: the sidebar, the status bar, the model picker."""
