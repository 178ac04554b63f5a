"""overdue index covers missed_on

Revision ID: 5c2e8a41b7d9
Revises: fffb0daef133
Create Date: 2026-11-23 16:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '5c2e8a41b7d9'
down_revision: str | None = 'fffb0daef133'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('due_item', schema=None) as batch_op:
        batch_op.drop_index('ix_due_item_open_scope')
        batch_op.create_index(
            'ix_due_item_open_scope', ['is_open', 'village_code', 'window_end', 'missed_on'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('due_item', schema=None) as batch_op:
        batch_op.drop_index('ix_due_item_open_scope')
        batch_op.create_index('ix_due_item_open_scope', ['is_open', 'village_code', 'window_end'], unique=False)
