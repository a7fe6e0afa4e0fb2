"""Chinese addresses: normalise, parse and match them to buildings (地址匹配).

Cases and inspections without coordinates carry an address such as
``荔城区镇海街道东梅社区梅园路12号3栋2单元502室``. This module turns such text
into a building of the database:

1. :func:`normalise_address` puts the text in one canonical form: half-width
   digits, no spaces or punctuation, one word per part (栋 for 幢/座/号楼,
   单元 for 门, 室 for 房/号房), Arabic numbers for the Chinese numerals of
   those parts (十二号 → 12号), no province or city prefix.
2. :func:`parse_address` splits it into district, street office, community,
   road (or compound, hamlet), number (门牌号), building (栋), unit (单元)
   and room (室), by rule alone.
3. :func:`address_book` indexes buildings once by (road, number, building)
   and by their names, and knows the names of the places (district, street
   office, community, each also in its short forms: 镇海街道 ↔ 镇海,
   文献社区居委会 ↔ 文献社区 ↔ 文献). :func:`match_addresses` then matches
   many addresses with index look-ups: the places that prefix an address
   are read with the book's own names, so missing or abbreviated places
   still match and a given place narrows an ambiguous road.

Each step has its module, and this package re-exports their public names:
:mod:`~gridgis.address.normalising`, :mod:`~gridgis.address.parsing`,
:mod:`~gridgis.address.book` (the book and :func:`match_addresses`) and
:mod:`~gridgis.address.similar` (similar characters, one-edit typos).

Scores
------
An exact match of road, number and building (or of a compound's name and
building) scores 1.0. Each relaxation lowers the score:

===============================================================  =========
relaxation                                                       penalty
===============================================================  =========
road differs by one similar character (梅/眉)                      0.10
road one edit away (a typo; names of 3+ characters)              0.15
no 栋 given, the number has a single building                     0.10
栋 given, the number is a house without 栋                         0.10
no road given: the only building of the number in the community  0.25
a given district, street or community is not the building's      0.25 each
===============================================================  =========

Places that are left out cost nothing: a road, number and building unique in
the district are enough. A match is accepted when its score is at least
:data:`MATCH_THRESHOLD` and no other building scores the same.
"""

from __future__ import annotations

from gridgis.address.book import (
    MATCH_THRESHOLD,
    AddressBook,
    address_book,
    load_address_book,
    match_addresses,
)
from gridgis.address.normalising import normalise_address
from gridgis.address.parsing import ParsedAddress, parse_address

__all__ = [
    "MATCH_THRESHOLD",
    "AddressBook",
    "ParsedAddress",
    "address_book",
    "load_address_book",
    "match_addresses",
    "normalise_address",
    "parse_address",
]
