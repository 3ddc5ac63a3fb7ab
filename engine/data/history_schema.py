"""The history database's schema: numbered migrations, each applied whole or not at all."""

from __future__ import annotations

#: Each entry moves the schema from version N to N+1 (index N).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        model_id TEXT NOT NULL DEFAULT '',
        system_prompt TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content TEXT NOT NULL,
        created_at REAL NOT NULL,
        stats TEXT,
        rating INTEGER NOT NULL DEFAULT 0 CHECK (rating IN (-1, 0, 1))
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='messages', content_rowid='id', tokenize='trigram'
    );
    CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;
    CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content);
    END;
    CREATE TRIGGER messages_au AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;
    """,
    # 2: deleting a conversation first hides it (so it can be undone); purged later.
    """
    ALTER TABLE conversations ADD COLUMN deleted_at REAL;
    CREATE INDEX conversations_by_activity ON conversations(deleted_at, updated_at);
    """,
    # 3: document summaries, with the file's sha256 and the options used.
    """
    CREATE TABLE summaries (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        source_path TEXT NOT NULL DEFAULT '',
        sha256 TEXT NOT NULL DEFAULT '',
        options TEXT NOT NULL DEFAULT '{}',
        model_id TEXT NOT NULL DEFAULT '',
        summary TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'running'
            CHECK (status IN ('running', 'done', 'cancelled', 'failed')),
        error TEXT NOT NULL DEFAULT '',
        chunks INTEGER NOT NULL DEFAULT 0,
        tokens_read INTEGER NOT NULL DEFAULT 0,
        seconds REAL NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        deleted_at REAL
    );
    CREATE INDEX summaries_by_activity ON summaries(deleted_at, updated_at);
    """,
    # 4: Code pane tasks: what was asked (task, language, code, instruction, error) and
    # the answer.
    """
    CREATE TABLE code_tasks (
        id INTEGER PRIMARY KEY,
        task TEXT NOT NULL,
        language TEXT NOT NULL DEFAULT 'text',
        filename TEXT NOT NULL DEFAULT '',
        code TEXT NOT NULL DEFAULT '',
        instruction TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        answer TEXT NOT NULL DEFAULT '',
        model_id TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'running'
            CHECK (status IN ('running', 'done', 'cancelled', 'failed')),
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        deleted_at REAL
    );
    CREATE INDEX code_tasks_by_activity ON code_tasks(deleted_at, updated_at);
    """,
    # 5: a reasoning model's thinking, kept with its answer but apart from it (never sent
    # back to the model, searched or exported as the answer).
    """
    ALTER TABLE messages ADD COLUMN reasoning TEXT NOT NULL DEFAULT '';
    """,
    # 6: a conversation is a tree. Each message has a parent (None: a first message);
    # regenerating adds a sibling answer, editing a sibling question, and nothing is
    # deleted by either. A branch the user deletes is hidden (``deleted_at``, so Undo is
    # exact) and purged later, with its continuation. The conversation remembers the
    # leaf of the branch on screen. Today's lists become chains: each message's parent is
    # the conversation's message before it (ids grow with time, and conversations
    # interleave), and the leaf is the last message.
    """
    ALTER TABLE messages ADD COLUMN parent_id INTEGER
        REFERENCES messages(id) ON DELETE CASCADE;
    ALTER TABLE messages ADD COLUMN deleted_at REAL;
    ALTER TABLE conversations ADD COLUMN current_leaf_id INTEGER
        REFERENCES messages(id) ON DELETE SET NULL;
    UPDATE messages SET parent_id = (
        SELECT MAX(earlier.id) FROM messages AS earlier
        WHERE earlier.conversation_id = messages.conversation_id AND earlier.id < messages.id
    );
    UPDATE conversations SET current_leaf_id = (
        SELECT MAX(m.id) FROM messages AS m WHERE m.conversation_id = conversations.id
    );
    CREATE INDEX messages_by_parent ON messages(parent_id);
    """,
)
