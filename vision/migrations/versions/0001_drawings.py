"""The class board's drawings.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drawings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prompt", sa.String(40), nullable=False),
        sa.Column("guess", sa.String(40), nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("nickname", sa.String(20), nullable=True),
        sa.Column("input28", sa.LargeBinary, nullable=False),
        sa.Column("picture_png", sa.LargeBinary, nullable=False),
        sa.CheckConstraint("probability >= 0 AND probability <= 1", name="ck_drawings_probability"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_drawings_prompt_id", "drawings", ["prompt", "id"])


def downgrade() -> None:
    op.drop_index("ix_drawings_prompt_id", table_name="drawings")
    op.drop_table("drawings")
