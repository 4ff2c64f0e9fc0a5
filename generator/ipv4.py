"""IPv4 values parsed once per text: the checks and the resolver of a fleet parse the same networks and
gateway for every node, and the standard library's parser is pure Python. Same results and errors as
ipaddress's constructors (a failure is not kept: it is raised again each time). A few hundred are kept: the
fleet's shared values stay (used for every node), a node's own address only while that node is worked on, so
a large fleet's build does not hold one for each node."""

import ipaddress
from functools import lru_cache


@lru_cache(maxsize=256)
def address(text) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(text)


@lru_cache(maxsize=256)
def interface(text) -> ipaddress.IPv4Interface:
    return ipaddress.IPv4Interface(text)


@lru_cache(maxsize=256)
def network(text, strict: bool = True) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(text, strict=strict)
