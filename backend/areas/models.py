"""Places: 12-digit statistical area codes (统计用区划代码); the hierarchy is the code prefix."""

from sqlmodel import Field, SQLModel


class Area(SQLModel, table=True):
    """A province, prefecture, county, township or village, named by its 12-digit code."""

    code: str = Field(primary_key=True, min_length=12, max_length=12)
    name: str = Field(max_length=80)
