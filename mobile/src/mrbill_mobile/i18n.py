"""English and Brazilian Portuguese, chosen from the system locale unless overridden.

Plain dicts: a handful of short strings needs no gettext toolchain on a phone.
"""

from __future__ import annotations

import locale
import math
import os

EN: dict[str, str] = {
    "app.title": "Mr Bill",
    "login.title": "Log in to Mr Bill",
    "login.email": "E-mail",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.to_signup": "Create an account",
    "login.forgot": "Forgot your password?",
    "signup.title": "Create your organization",
    "signup.organization": "Organization",
    "signup.full_name": "Your name",
    "signup.submit": "Sign up",
    "signup.to_login": "I already have an account",
    "two_factor.title": "Two-step verification",
    "two_factor.hint": (
        "Enter the 6-digit code from your authenticator app. "
        "No phone at hand? One of your recovery codes works here too."
    ),
    "two_factor.code": "Code",
    "two_factor.submit": "Verify",
    "two_factor.back": "Back to the password",
    "nav.pocs": "POCs",
    "nav.content": "Reports",
    "nav.dojos": "Dojos",
    "nav.logout": "Log out",
    "offline": "You are offline. Showing what was loaded last.",
    "error.generic": "Something went wrong: {message}",
    "error.session": "Your session ended. Please log in again.",
    "retry.second": "{message}. Try again in a second.",
    "retry.seconds": "{message}. Try again in {count} seconds.",
    "retry.minute": "{message}. Try again in a minute.",
    "retry.minutes": "{message}. Try again in {count} minutes.",
    "retry.hours": "{message}. Try again in {count} hours.",
    "pocs.search": "Search POCs (typos are fine)",
    "pocs.all_languages": "All languages",
    "pocs.all_tags": "All tags",
    "pocs.new": "New POC",
    "pocs.refresh": "Refresh",
    "pocs.more": "Load more",
    "pocs.count": "{shown} of {total} POCs",
    "pocs.empty": "No POCs yet. Tap “New POC” to add one.",
    "pocs.no_match": "No POC matches this search.",
    "pocs.loading": "Loading…",
    "pocs.edit": "Edit",
    "form.new": "New POC",
    "form.edit": "Edit POC",
    "form.name": "Name",
    "form.description": "Description",
    "form.language": "Language",
    "form.tags": "Tags (comma or space separated)",
    "form.repository_url": "Repository URL",
    "form.status": "Status",
    "form.visibility": "Visibility",
    "form.save": "Save",
    "form.delete": "Delete",
    "form.cancel": "Cancel",
    "form.fix_fields": "Please correct the fields marked in red.",
    "form.conflict": (
        "Someone changed this POC meanwhile. Their changes are loaded and yours are kept: "
        "check and save again."
    ),
    "status.idea": "Idea",
    "status.in_progress": "In progress",
    "status.done": "Done",
    "status.abandoned": "Abandoned",
    "visibility.private": "Only me",
    "visibility.tenant": "My organization",
    "content.title": "Reports and videos",
    "content.year": "Year",
    "content.report": "Request PDF report",
    "content.video": "Request yearly video",
    "content.open": "Open result",
    "content.state": "{kind} {year}: {status} ({progress}%)",
    "content.kind.report": "Report",
    "content.kind.video": "Video",
    "content.status.queued": "queued",
    "content.status.running": "rendering",
    "content.status.succeeded": "ready",
    "content.status.failed": "failed",
    "content.status.cancelled": "cancelled",
    "content.none": "Nothing requested yet.",
    "dojos.title": "Dojos",
    "dojos.live": "Live now",
    "dojos.upcoming": "Upcoming",
    "dojos.none": "None.",
    "dojos.watch": "Watch",
    "dojos.code": "Invite code (to join as an observer)",
    "dojos.needs_invite": "Paste an observer invite code to join this dojo.",
    "dojos.watching": "Watching “{name}” (read-only)",
    "dojos.stop": "Stop watching",
    "dojos.closed": "The room closed the connection (code {code}).",
    "dojos.ended": "“{name}” has ended. This is its final code.",
    "dojos.unavailable": "Live code is not available on this device.",
    "dojos.participants": "participants: {count}",
}

PT_BR: dict[str, str] = {
    "app.title": "Mr Bill",
    "login.title": "Entrar no Mr Bill",
    "login.email": "E-mail",
    "login.password": "Senha",
    "login.submit": "Entrar",
    "login.to_signup": "Criar uma conta",
    "login.forgot": "Esqueceu a senha?",
    "signup.title": "Crie sua organização",
    "signup.organization": "Organização",
    "signup.full_name": "Seu nome",
    "signup.submit": "Cadastrar",
    "signup.to_login": "Já tenho uma conta",
    "two_factor.title": "Verificação em duas etapas",
    "two_factor.hint": (
        "Digite o código de 6 dígitos do seu app autenticador. "
        "Está sem o celular? Um dos seus códigos de recuperação também serve aqui."
    ),
    "two_factor.code": "Código",
    "two_factor.submit": "Verificar",
    "two_factor.back": "Voltar para a senha",
    "nav.pocs": "POCs",
    "nav.content": "Relatórios",
    "nav.dojos": "Dojos",
    "nav.logout": "Sair",
    "offline": "Você está sem conexão. Mostrando os últimos dados carregados.",
    "error.generic": "Algo deu errado: {message}",
    "error.session": "Sua sessão terminou. Entre novamente.",
    "retry.second": "{message}. Tente de novo em um segundo.",
    "retry.seconds": "{message}. Tente de novo em {count} segundos.",
    "retry.minute": "{message}. Tente de novo em um minuto.",
    "retry.minutes": "{message}. Tente de novo em {count} minutos.",
    "retry.hours": "{message}. Tente de novo em {count} horas.",
    "pocs.search": "Buscar POCs (erros de digitação tudo bem)",
    "pocs.all_languages": "Todas as linguagens",
    "pocs.all_tags": "Todas as tags",
    "pocs.new": "Nova POC",
    "pocs.refresh": "Atualizar",
    "pocs.more": "Carregar mais",
    "pocs.count": "{shown} de {total} POCs",
    "pocs.empty": "Nenhuma POC ainda. Toque em “Nova POC” para criar.",
    "pocs.no_match": "Nenhuma POC corresponde a esta busca.",
    "pocs.loading": "Carregando…",
    "pocs.edit": "Editar",
    "form.new": "Nova POC",
    "form.edit": "Editar POC",
    "form.name": "Nome",
    "form.description": "Descrição",
    "form.language": "Linguagem",
    "form.tags": "Tags (separadas por vírgula ou espaço)",
    "form.repository_url": "URL do repositório",
    "form.status": "Situação",
    "form.visibility": "Visibilidade",
    "form.save": "Salvar",
    "form.delete": "Excluir",
    "form.cancel": "Cancelar",
    "form.fix_fields": "Corrija os campos marcados em vermelho.",
    "form.conflict": (
        "Alguém alterou esta POC enquanto isso. As alterações dessa pessoa foram carregadas "
        "e as suas mantidas: confira e salve de novo."
    ),
    "status.idea": "Ideia",
    "status.in_progress": "Em andamento",
    "status.done": "Concluída",
    "status.abandoned": "Abandonada",
    "visibility.private": "Só eu",
    "visibility.tenant": "Minha organização",
    "content.title": "Relatórios e vídeos",
    "content.year": "Ano",
    "content.report": "Pedir relatório em PDF",
    "content.video": "Pedir vídeo do ano",
    "content.open": "Abrir resultado",
    "content.state": "{kind} {year}: {status} ({progress}%)",
    "content.kind.report": "Relatório",
    "content.kind.video": "Vídeo",
    "content.status.queued": "na fila",
    "content.status.running": "gerando",
    "content.status.succeeded": "pronto",
    "content.status.failed": "falhou",
    "content.status.cancelled": "cancelado",
    "content.none": "Nada pedido ainda.",
    "dojos.title": "Dojos",
    "dojos.live": "Ao vivo",
    "dojos.upcoming": "Próximos",
    "dojos.none": "Nenhum.",
    "dojos.watch": "Assistir",
    "dojos.code": "Código de convite (para entrar como observador)",
    "dojos.needs_invite": "Cole um código de convite de observador para entrar neste dojo.",
    "dojos.watching": "Assistindo “{name}” (somente leitura)",
    "dojos.stop": "Parar de assistir",
    "dojos.closed": "A sala encerrou a conexão (código {code}).",
    "dojos.ended": "“{name}” terminou. Este é o código final.",
    "dojos.unavailable": "O código ao vivo não está disponível neste aparelho.",
    "dojos.participants": "participantes: {count}",
}

CATALOGS = {"en": EN, "pt-BR": PT_BR}


def detect_language(override: str | None = None) -> str:
    """``override``, else ``MRBILL_LANG``, else the system locale: ``pt*`` is pt-BR, else en."""
    choice = override or os.environ.get("MRBILL_LANG")
    if not choice:
        try:
            choice = locale.getlocale()[0] or ""
        except ValueError:
            choice = ""
        choice = choice or os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    return "pt-BR" if choice.lower().replace("_", "-").startswith("pt") else "en"


def problem_text(t: Translator, message: str, retry_after: float | None) -> str:
    """An API problem's message for a person; with a ``Retry-After`` (429: too many
    attempts, too many reports at once), also when to try again."""
    if not retry_after or retry_after <= 0:
        return message
    message = message.rstrip(".")
    seconds = math.ceil(retry_after)
    if seconds < 60:
        key = "retry.second" if seconds == 1 else "retry.seconds"
        return t(key, message=message, count=seconds)
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        key = "retry.minute" if minutes == 1 else "retry.minutes"
        return t(key, message=message, count=minutes)
    return t("retry.hours", message=message, count=math.ceil(minutes / 60))


class Translator:
    def __init__(self, language: str = "en") -> None:
        self.language = language if language in CATALOGS else "en"
        self.catalog = CATALOGS[self.language]

    def __call__(self, key: str, **values: object) -> str:
        text = self.catalog.get(key) or EN.get(key) or key
        return text.format(**values) if values else text
