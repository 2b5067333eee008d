"""The people import's fast check: a whole chunk of CSV rows, a column at a time.

Most rows of a real file are plain: a 12-digit ID, a name already in NFC with single spaces,
"Nam"/"Nữ", dd/mm/yyyy, a unit code as the units table writes it, the layout's own labels.
This module recognises such rows column by column (compiled patterns, dict and set look-ups
mapped over a column; each distinct birth date parsed once, the ID's digits checked once per
birth year and gender) and builds their records, in a fraction of the time that checking
them one by one (people_rows.RowValidator.check) takes.

It never refuses anything itself: a row it is not sure of goes, in its place in the file's
order, through RowValidator.check, which stays the one source of every error and message.
What it accepts it must accept exactly as check would, with the same record: each rule here
is a narrower form of check's (the tests compare both on every kind of row), and the values
it reuses (labels, unit validity, the ID and date rules) come from the validator itself.
"""
import re
import unicodedata
from datetime import date
from itertools import combinations
from operator import itemgetter

from marshmallow import validate

from cdht.contracts.events import ROLES
from services.registry import domain
from services.registry.imports.files import parse_date
from services.registry.imports.layout import FIELDS, GENDER_LABELS, ROLE_LABELS, \
    ROLE_SEPARATOR, TARGET_GROUP_LABELS

_MISS = object()
"""A cell the fast check is not sure of: its row goes through RowValidator.check."""

# 12 ASCII digits whose first three are a province code 001-096 (domain.national_id_problems)
_NATIONAL_ID = re.compile(r"(?:00[1-9]|0[1-8][0-9]|09[0-6])[0-9]{9}").fullmatch
# letters only ([^\W\d_] is what people_rows counts as a letter, \d what it refuses), single
# spaces between words, none around: a name normalise_name leaves as it is
_NAME = re.compile(r"[^\W\d_]+(?: [^\W\d_]+)*").fullmatch
_PHONE_RULE = r"^\+?[0-9]{9,15}$"
_PHONE = re.compile(r"\+?[0-9]{9,15}").fullmatch  # nothing _phone() would strip
# a narrow form of marshmallow's Email: dot-atom user part, ASCII host names, a letter TLD
_EMAIL = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
                    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,6}"
                    ).fullmatch
_CACHE = 100_000  # distinct cells (or keys) a look-up table remembers


def _looked_up(table, keys, compute):
    """``compute(key)`` for each key, each distinct key computed once while ``table`` (kept
    from chunk to chunk) has room."""
    missing = set(keys).difference(table)
    if len(table) + len(missing) > _CACHE:
        table.clear()
        missing = set(keys)
    for key in missing:
        table[key] = compute(key)
    return list(map(table.__getitem__, keys))


def _is_nfc(text):
    return unicodedata.is_normalized("NFC", text)


def _exact_labels(vocabulary, labels):
    """Cell text -> code for the codes and labels exactly as the layout writes them, each
    as the validator's own vocabulary reads it."""
    known = {}
    for code, label in labels.items():
        for text in (code, label):
            if vocabulary.get(text) == code:
                known[text] = code
    return known


def _exact_roles(read_roles):
    """Cell text -> roles for every set of roles written in the layout's order and
    separator ("" for none), each as people_rows._roles reads it."""
    known = {"": []}
    for size in range(1, len(ROLES) + 1):
        for chosen in combinations(ROLES, size):
            text = ROLE_SEPARATOR.join(ROLE_LABELS[c] for c in chosen)
            roles, unknown = read_roles(text)
            if not unknown and roles == list(chosen):
                known[text] = roles
    return known


class FastCheck:
    """Records for the rows of a chunk it is sure of (``_MISS``-free), built column-wise."""

    def __init__(self, validator, read_roles):
        self.validator = validator
        fields = validator.layout.fields
        self.positions = [fields.get(name) for name in FIELDS]
        self.width = max(p for p in self.positions if p is not None) + 1
        self.getter = itemgetter(*(p for p in self.positions if p is not None))
        self.genders = _exact_labels(validator._genders, GENDER_LABELS)
        self.groups = _exact_labels(validator._groups, TARGET_GROUP_LABELS)
        self.roles = _exact_roles(read_roles)
        self.units = {code for code, valid in validator.units.items()
                      if valid and code == code.strip() and validator.in_scope(code)}
        self.name_max = validator._name_max
        self.ethnicity_max = validator._ethnicity_max
        # only where the registry's rules are the ones these patterns narrow
        self.phones = all(isinstance(r, validate.Regexp) and r.regex.pattern == _PHONE_RULE
                          for r in validator._phone_rules)
        self.emails = all(isinstance(r, validate.Email) for r in validator._email_rules)
        self.dates = {}  # birth cell -> date or _MISS
        self.fits = {}  # (birth year, gender, ID digits 4-6) -> whether they agree

    def records(self, cells_of_rows):
        """For each row (its cells): the record check would return, or None (not sure)."""
        rows = list(cells_of_rows)
        if not rows:
            return []
        widths = list(map(len, rows))
        short = min(widths) < self.width
        if short:  # ragged rows (cells missing) go the slow way: blanks stand in for them
            rows = [cells if len(cells) >= self.width else [""] * self.width
                    for cells in rows]
        present = iter(zip(*map(self.getter, rows)))  # (the required fields make it >= 6)
        columns = {name: (next(present) if p is not None else None)
                   for name, p in zip(FIELDS, self.positions)}
        count = len(rows)
        ids = self._ids(columns["national_id"])
        names = self._names(columns["full_name"])
        genders = list(map(self.genders.get, columns["gender"], [_MISS] * count))
        born = self._born(columns["birth_date"], genders, columns["national_id"])
        ethnicities = self._ethnicities(columns["ethnicity"], count)
        phones = self._optional(columns["phone"], count, _PHONE if self.phones else None)
        emails = self._optional(columns["email"], count, _EMAIL if self.emails else None,
                                254)
        units = [u if u in self.units else _MISS for u in columns["unit_code"]]
        groups = list(map(self.groups.get, columns["target_group"], [_MISS] * count))
        roles = (list(map(self.roles.get, columns["roles"], [_MISS] * count))
                 if columns["roles"] is not None else [[]] * count)
        found = [None if _MISS in record else record for record in zip(
            ids, names, genders, born, ethnicities, phones, emails, units, groups, roles)]
        if short:
            found = [None if width < self.width else record
                     for width, record in zip(widths, found)]
        return found

    def _ids(self, column):
        return [text if ok else _MISS for text, ok in zip(column, map(_NATIONAL_ID, column))]

    def _names(self, column):
        ok = map(_NAME, column)
        nfc = map(_is_nfc, column)
        return [text if good and normal and len(text) <= self.name_max else _MISS
                for text, good, normal in zip(column, ok, nfc)]

    def _born(self, births, genders, ids):
        """Birth dates that pass the date and ID rules (domain.check_new_person): each
        distinct cell parsed once, each distinct birth year, gender and ID digits 4-6
        checked once."""
        dates = _looked_up(self.dates, births, self._date)
        years = [d.year if d is not _MISS else 0 for d in dates]
        keys = list(zip(years, genders, map(itemgetter(slice(3, 6)), ids)))
        fits = _looked_up(self.fits, keys, self._fits)
        return [d if fit else _MISS for d, fit in zip(dates, fits)]

    def _date(self, cell):
        birth_date = parse_date(cell)
        if birth_date is None or birth_date.year < 1900 or birth_date > self.validator.today:
            return _MISS
        return birth_date

    def _fits(self, key):
        """Whether digits 4-6 of an ID fit a birth year and gender (any province code
        passes here: _NATIONAL_ID has checked the real one)."""
        year, gender, digits = key
        if not year or gender is _MISS or len(digits) != 3 or \
                not (digits.isascii() and digits.isdigit()):
            return False
        return not domain.national_id_problems("001" + digits + "000000",
                                               date(year, 1, 1), gender)

    def _ethnicities(self, column, count):
        if column is None:
            return [None] * count
        return [(text or None) if text == stripped and len(text) <= self.ethnicity_max
                else _MISS for text, stripped in zip(column, map(str.strip, column))]

    @staticmethod
    def _optional(column, count, pattern, longest=None):
        """A column that may be empty (None): else what ``pattern`` matches whole."""
        if column is None:
            return [None] * count
        if pattern is None:
            return [None if text == "" else _MISS for text in column]
        return [None if text == "" else text if ok and (longest is None or len(text) <= longest)
                else _MISS for text, ok in zip(column, map(pattern, column))]
