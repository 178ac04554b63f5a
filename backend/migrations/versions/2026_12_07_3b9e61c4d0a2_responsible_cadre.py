"""responsible cadre of a pregnancy

Revision ID: 3b9e61c4d0a2
Revises: 8d4f0b6e2a17
Create Date: 2026-12-07 23:40:00.000000

Backfill: the cadre who registered the pregnancy when she still answers for its village; otherwise the
village's only active cadre; otherwise none (the supervisor chooses; until then the township answers).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b9e61c4d0a2"
down_revision: str | None = "8d4f0b6e2a17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE_CADRES_OF_HER_VILLAGE = """
    FROM user_area ua JOIN app_user u ON u.id = ua.user_id
    WHERE ua.area_code = pregnancy.village_code AND u.role = 'village' AND u.active
"""


def upgrade() -> None:
    with op.batch_alter_table("pregnancy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cadre_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_pregnancy_cadre_id"), ["cadre_id"], unique=False)
        batch_op.create_foreign_key("fk_pregnancy_cadre_id_app_user", "app_user", ["cadre_id"], ["id"])
    op.execute(
        f"UPDATE pregnancy SET cadre_id = author_id WHERE author_id IN (SELECT ua.user_id {ACTIVE_CADRES_OF_HER_VILLAGE})"
    )
    op.execute(
        f"""UPDATE pregnancy SET cadre_id = (SELECT ua.user_id {ACTIVE_CADRES_OF_HER_VILLAGE} LIMIT 1)
        WHERE cadre_id IS NULL AND (SELECT count(*) {ACTIVE_CADRES_OF_HER_VILLAGE}) = 1"""
    )


def downgrade() -> None:
    with op.batch_alter_table("pregnancy", schema=None) as batch_op:
        batch_op.drop_constraint("fk_pregnancy_cadre_id_app_user", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_pregnancy_cadre_id"))
        batch_op.drop_column("cadre_id")
