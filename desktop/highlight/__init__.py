"""Syntax highlighting for code: Chat and Summarize's code blocks, the Code pane's editor.

The modules, by job: :mod:`~desktop.highlight.lexer` lexes with Pygments, incrementally
and without Qt; :mod:`~desktop.highlight.schemes` holds the colour schemes;
:mod:`~desktop.highlight.blocks` finds and styles the code blocks of Markdown documents;
:mod:`~desktop.highlight.highlighter` is the editor's ``QSyntaxHighlighter``; and
:mod:`~desktop.highlight.languages` names languages for display. This package imports
none of them, so importing the lexer alone pulls in no Qt.
"""
