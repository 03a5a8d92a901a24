"""The words of reports and videos, in pt-BR and en."""

from __future__ import annotations

from datetime import date

_MONTHS = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "pt-BR": ["jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"],
}

# The POC statuses, in the words the web app uses for them (web/src/i18n.tsx, "status.*").
_STATUSES = {
    "en": {"idea": "Idea", "in_progress": "In progress", "done": "Done", "abandoned": "Abandoned"},
    "pt-BR": {
        "idea": "Ideia",
        "in_progress": "Em andamento",
        "done": "Concluída",
        "abandoned": "Abandonada",
    },
}

_TEXT = {
    "en": {
        "report_title": "POC report",
        "video_title": "My year in POCs",
        "period": "Period",
        "generated": "Generated on",
        "pocs": "POCs",
        "languages": "Languages",
        "tags": "Tags",
        "summary": "Summary",
        "by_language": "POCs per language",
        "by_month": "POCs per month",
        "by_status": "Status",
        "top_tags": "Top tags",
        "all_pocs": "All POCs",
        "name": "Name",
        "language": "Language",
        "status": "Status",
        "dates": "Dates",
        "links": "Link",
        "frameworks": "Frameworks",
        "empty_title": "No POCs in this period yet",
        "empty_body": "When you register POCs, they will show up here. Time to build something!",
        "none": "—",
        "page": "Page",
        "started": "Started",
        "finished": "Finished",
        "created": "Created",
        "closing": "What a year!",
        "total": "POCs in total",
        "most_used": "Most used language",
        "busiest": "Busiest month",
        "unknown": "unknown",
        "no_status": "no status",
    },
    "pt-BR": {
        "report_title": "Relatório de POCs",
        "video_title": "Meu ano em POCs",
        "period": "Período",
        "generated": "Gerado em",
        "pocs": "POCs",
        "languages": "Linguagens",
        "tags": "Tags",
        "summary": "Resumo",
        "by_language": "POCs por linguagem",
        "by_month": "POCs por mês",
        "by_status": "Situação",
        "top_tags": "Tags mais usadas",
        "all_pocs": "Todas as POCs",
        "name": "Nome",
        "language": "Linguagem",
        "status": "Situação",
        "dates": "Datas",
        "links": "Link",
        "frameworks": "Frameworks",
        "empty_title": "Nenhuma POC neste período ainda",
        "empty_body": "Quando você registrar POCs, elas aparecerão aqui. Hora de construir algo!",
        "none": "—",
        "page": "Página",
        "started": "Início",
        "finished": "Fim",
        "created": "Criada em",
        "closing": "Que ano!",
        "total": "POCs no total",
        "most_used": "Linguagem mais usada",
        "busiest": "Mês mais produtivo",
        "unknown": "desconhecida",
        "no_status": "sem situação",
    },
}


def words(language: str) -> dict[str, str]:
    return _TEXT.get(language, _TEXT["en"])


def status_label(status: str | None, language: str) -> str:
    """A POC status as readers know it (``in_progress`` is "Em andamento" in pt-BR); a status
    this module does not know is shown as it is, and none at all as an empty string."""
    if not status:
        return ""
    return _STATUSES.get(language, _STATUSES["en"]).get(status, status)


def month_names(language: str) -> list[str]:
    return _MONTHS.get(language, _MONTHS["en"])


def month_label(month: date, language: str, *, with_year: bool = False) -> str:
    """A month's short name; with its year (``jan/25``, ``Jan '25``) when the months shown
    belong to more than one year."""
    name = month_names(language)[month.month - 1]
    if not with_year:
        return name
    if language == "pt-BR":
        return f"{name}/{month.year % 100:02d}"
    return f"{name} '{month.year % 100:02d}"


def format_date(value: date | str | None, language: str) -> str:
    """``2025-03-07`` as ``07/03/2025`` (pt-BR) or ``Mar 7, 2025`` (en)."""
    if value is None or value == "":
        return words(language)["none"]
    if isinstance(value, str):
        text = value[:10]
        try:
            value = date.fromisoformat(text)
        except ValueError:
            return text
    if language == "pt-BR":
        return value.strftime("%d/%m/%Y")
    return f"{month_names('en')[value.month - 1]} {value.day}, {value.year}"


def format_period(start: date, end: date, language: str) -> str:
    """Both dates, with an en dash between them."""
    return f"{format_date(start, language)} \u2013 {format_date(end, language)}"
