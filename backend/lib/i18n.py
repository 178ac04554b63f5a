"""Bilingual text: every user-facing string is Chinese first with an English alternative."""

from dataclasses import dataclass, field

LOCALES = ("zh", "en")
DEFAULT_LOCALE = "zh"


@dataclass(frozen=True)
class Text:
    """A message in both languages; `in_(locale)` picks one."""

    zh: str
    en: str

    def in_(self, locale: str) -> str:
        return self.en if locale == "en" else self.zh

    def format(self, **params: object) -> "Text":
        return Text(self.zh.format(**params), self.en.format(**params))


@dataclass(frozen=True)
class FieldError:
    """Why one named field of a form or operation was refused."""

    field: str
    text: Text

    def as_dict(self, locale: str = DEFAULT_LOCALE) -> dict[str, str]:
        return {"field": self.field, "message": self.text.in_(locale), "zh": self.text.zh, "en": self.text.en}


@dataclass
class ValidationFailed(Exception):
    """Raised by services when input breaks a rule; carries one error per offending field."""

    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{e.field}: {e.text.en}" for e in self.errors)

    def by_field(self) -> dict[str, FieldError]:
        out: dict[str, FieldError] = {}
        for e in self.errors:
            out.setdefault(e.field, e)
        return out
