"""The next hop toward a recipient's domain, as RFC 5321 §5.1 finds it: its MX hosts by preference, or,
when the domain has no MX records, the domain itself (its A/AAAA records) as an implicit MX."""

from __future__ import annotations

import random
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.resolver

from mailtrap_lite.config import HostPort

DNS_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Hop:
    """One server to try: ``name`` is what its certificate must show, ``address`` where it listens."""

    name: str
    address: str
    port: int

    def __str__(self) -> str:
        return str(HostPort(self.name, self.port))


class NoRoute(Exception):
    """No next hop: ``permanent`` when the DNS says so (no such domain, a null MX), else worth a retry."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class MXResolver:
    def __init__(self, server: HostPort | None = None) -> None:
        self._server = server
        self._resolver: dns.asyncresolver.Resolver | None = None

    def _make(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            resolver = dns.asyncresolver.Resolver(configure=self._server is None)
            if self._server is not None:
                resolver.nameservers = [self._server.host]
                resolver.port = self._server.port
            resolver.lifetime = DNS_TIMEOUT
            self._resolver = resolver
        return self._resolver

    async def hops(self, domain: str, port: int) -> list[Hop]:
        """Every address to try for ``domain``, best first. Raises NoRoute."""
        hosts = await self._exchanges(domain)
        found: list[Hop] = []
        for host in hosts:
            for address in await self._addresses(host):
                found.append(Hop(host, address, port))
        if not found:
            raise NoRoute(f"no address for the mail hosts of {domain} ({', '.join(hosts)})", permanent=False)
        return found

    async def _exchanges(self, domain: str) -> list[str]:
        try:
            answer = await self._make().resolve(domain, "MX")
        except dns.resolver.NoAnswer:
            return [domain]  # RFC 5321 §5.1: no MX records, the domain is its own implicit MX
        except dns.resolver.NXDOMAIN:
            raise NoRoute(f"the domain {domain} does not exist", permanent=True) from None
        except (dns.exception.DNSException, OSError) as error:
            raise NoRoute(f"looking up the MX records of {domain} failed: {error}", permanent=False) from None
        records = [(int(r.preference), r.exchange.to_text(omit_final_dot=True)) for r in answer]
        if any(host in ("", ".") for _, host in records):
            raise NoRoute(f"{domain} accepts no mail (null MX, RFC 7505)", permanent=True)
        # RFC 5321 §5.1: lowest preference first; hosts of equal preference in random order.
        random.shuffle(records)
        return [host for _, host in sorted(records, key=lambda record: record[0])]

    async def _addresses(self, host: str) -> list[str]:
        addresses: list[str] = []
        for kind in ("A", "AAAA"):
            try:
                answer = await self._make().resolve(host, kind)
            except (dns.exception.DNSException, OSError):
                continue
            addresses += [record.to_text() for record in answer]
        return addresses
