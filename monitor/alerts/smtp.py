"""Email delivery over SMTP, with the certificate always verified.

smtplib is blocking, so each message is sent on a small thread pool of its own
(never the daemon's database thread, never the event loop). Every socket
operation has the channel's timeout and the whole exchange a deadline; a
server that stalls costs one thread for at most that long.

smtplib does not verify certificates unless given a context that does:
`ssl.create_default_context()` checks the chain and the host name, and that is
what every connection here uses. STARTTLS is required when configured, so a
server (or a man in the middle) that does not offer it fails the attempt
rather than downgrading to clear text.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import parseaddr
from pathlib import Path

from monitor.alerts.content import Content
from monitor.alerts.delivery import Delivery
from monitor.alerts.render import email
from monitor.alerts.settings import EmailChannel
from monitor.present.sanitize import one_line


def tls_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """Verifying context: the system store, or only `ca_file` when given."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


class SmtpSender:
    kind = "email"

    def __init__(
        self,
        name: str,
        channel: EmailChannel,
        password: str | None,
        *,
        context: ssl.SSLContext | None = None,
        executor: ThreadPoolExecutor | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self.name = name
        self.channel = channel
        self.target = channel.target
        self.config_hash = hashlib.sha256(channel.model_dump_json(by_alias=True).encode()).hexdigest()
        self._password = password
        self._context = context or (tls_context(ca_file) if channel.security != "none" else None)
        self._executor = executor or ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"smtp-{name}")

    async def send(self, content: Content) -> Delivery:
        try:
            message = email(content, self.channel)
        except Exception as exc:  # a rendering bug must fail the attempt, not the dispatcher
            return Delivery(False, error=f"cannot build the message: {type(exc).__name__}: {exc}")
        loop = asyncio.get_running_loop()
        deadline = self.channel.timeout_s
        try:
            async with asyncio.timeout(deadline):
                return await loop.run_in_executor(self._executor, self._send, message)
        except TimeoutError:
            return Delivery(False, error=f"SMTP exchange not finished within {deadline:g}s")

    def _send(self, message: EmailMessage) -> Delivery:
        ch = self.channel
        try:
            smtp: smtplib.SMTP
            if ch.security == "tls":
                smtp = smtplib.SMTP_SSL(ch.smtp_host, ch.port, timeout=ch.timeout_s, context=self._context)
            else:
                smtp = smtplib.SMTP(ch.smtp_host, ch.port, timeout=ch.timeout_s)
            with smtp:
                smtp.ehlo()
                if ch.security == "starttls":
                    smtp.starttls(context=self._context)
                    smtp.ehlo()
                if ch.username is not None:
                    smtp.login(ch.username, self._password or "")
                return self._transaction(smtp, message)
        except smtplib.SMTPResponseException as exc:
            reply = _reply(exc.smtp_code, exc.smtp_error)
            return Delivery(False, status=reply, error=f"SMTP {reply}")
        except smtplib.SMTPNotSupportedError as exc:
            return Delivery(False, error=f"SMTP: {exc}")
        except ssl.SSLCertVerificationError as exc:
            return Delivery(False, error=f"TLS certificate not trusted: {exc.verify_message or exc}")
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(False, error=one_line(f"{type(exc).__name__}: {exc}", 300))

    def _transaction(self, smtp: smtplib.SMTP, message: EmailMessage) -> Delivery:
        """MAIL, RCPT per recipient, DATA: done by hand to keep the server's final reply."""
        envelope_from = parseaddr(self.channel.sender)[1]
        code, reply = smtp.mail(envelope_from)
        if code != 250:
            smtp.rset()
            raise smtplib.SMTPSenderRefused(code, reply, envelope_from)
        refused = []
        for recipient in self.channel.to:
            address = parseaddr(recipient)[1]
            code, reply = smtp.rcpt(address)
            if code not in (250, 251):
                refused.append(f"{address}: {_reply(code, reply)}")
        if len(refused) == len(self.channel.to):
            smtp.rset()
            return Delivery(False, status=refused[0].split(": ", 1)[1], error="every recipient refused: "
                            + "; ".join(refused))
        code, reply = smtp.data(message.as_bytes(policy=SMTP))
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        status = _reply(code, reply)
        if refused:  # delivered to the others; say who missed it
            status = f"{status} (refused: {'; '.join(refused)})"
        return Delivery(True, status=status[:200])

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return one_line(f"{code} {text}", 200)
