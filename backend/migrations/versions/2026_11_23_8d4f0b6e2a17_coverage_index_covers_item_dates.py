"""coverage index covers item dates

Revision ID: 8d4f0b6e2a17
Revises: 5c2e8a41b7d9
Create Date: 2026-11-23 17:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '8d4f0b6e2a17'
down_revision: str | None = '5c2e8a41b7d9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('due_item', schema=None) as batch_op:
        batch_op.drop_index('ix_due_item_scope_due')
        batch_op.create_index(
            'ix_due_item_scope_due',
            ['village_code', 'due_on', 'window_end', 'done_on', 'cancelled_on', 'missed_on'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('due_item', schema=None) as batch_op:
        batch_op.drop_index('ix_due_item_scope_due')
        batch_op.create_index('ix_due_item_scope_due', ['village_code', 'due_on'], unique=False)
