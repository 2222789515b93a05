"""Alembic's entry point for the class board's migrations (vision/board.py runs them).

The board passes its own open connection in `config.attributes["connection"]`, inside its
transaction, so the migrations need no alembic.ini and no URL of their own.
"""

from alembic import context

from vision.board import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the class board's migrations through vision.board.Board.migrate()")

context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
