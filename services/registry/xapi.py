"""xAPI statements (the Experience API, 1.0.3; 2.0 where it says the same) checked as an LRS
must check them, before anything is written: plain Python, no framework, no database.

``statements_of(body, version)`` takes what a platform posted (one statement or an array) and
gives the statements back, or raises ``Invalid`` naming every problem by its place
(``statements[1].actor.account.homePage``), which the LRS answers with a 400. What CDHT then
does with a statement (which count, for whom) is xapi_rules.py's.

CDHT's own rule on top of the specification's: a learner is named by their account on the
platform (``actor.account``), never by an email address or another identifier in clear.
"""
import hashlib
import json
import re
import uuid
from datetime import datetime, timezone

VERSION = "1.0.3"  # the X-Experience-API-Version of every answer
# GET /xapi/about: the 1.0.x this LRS conforms to. A 2.0 client is answered too (the header
# accepts 2.0.x, a statement is checked by 2.0's rules where they differ) but not announced:
# the rest of 2.0 is not implemented, and 1.0 clients refuse an about naming it.
VERSIONS = ("1.0.3", "1.0.2", "1.0.1", "1.0.0")
VERSION_HEADER = "X-Experience-API-Version"
_ACCEPTED_VERSION = re.compile(r"^(1\.0(\.[0-9]+)?|2\.0(\.[0-9]+)?)$")
HEADER_VERSIONS = ("1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0", "2.0.0", "2.0")

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")
_IRL = re.compile(r"^https?://[^\s<>\"{}|\\^`]+$", re.I)
_MBOX = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[89abAB][0-9a-fA-F]{3}"
                   r"-[0-9a-fA-F]{12}$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
                        r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$")
_NUMBER = r"([0-9]+(?:[.,][0-9]+)?)"
_DURATION = re.compile(rf"^P(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
                       rf"(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?$")
_HOURS_PER = (365.25 * 24, 30.4375 * 24, 7 * 24, 24, 1, 1 / 60, 1 / 3600)  # Y M W D H M S

STATEMENT_KEYS = {"id", "actor", "verb", "object", "result", "context", "timestamp", "stored",
                  "authority", "version", "attachments"}
SUBSTATEMENT_KEYS = {"objectType", "actor", "verb", "object", "result", "context",
                     "timestamp", "attachments"}
AGENT_KEYS = {"objectType", "name", *IFIS}
GROUP_KEYS = AGENT_KEYS | {"member"}
VERB_KEYS = {"id", "display"}
ACTIVITY_KEYS = {"objectType", "id", "definition"}
DEFINITION_KEYS = {"name", "description", "type", "moreInfo", "extensions", "interactionType",
                   "correctResponsesPattern", "choices", "scale", "source", "target", "steps"}
INTERACTION_TYPES = {"true-false", "choice", "fill-in", "long-fill-in", "matching",
                     "performance", "sequencing", "likert", "numeric", "other"}
COMPONENT_KEYS = {"id", "description"}
RESULT_KEYS = {"score", "success", "completion", "response", "duration", "extensions"}
SCORE_KEYS = {"scaled", "raw", "min", "max"}
CONTEXT_KEYS = {"registration", "instructor", "team", "contextActivities", "revision",
                "platform", "language", "statement", "extensions"}
CONTEXT_KEYS_2_0 = {"contextAgents", "contextGroups"}
CONTEXT_ACTIVITY_KEYS = {"parent", "grouping", "category", "other"}
ATTACHMENT_KEYS = {"usageType", "display", "description", "contentType", "length", "sha2",
                   "fileUrl"}
MAX_STATEMENTS = 500  # in one request: a platform sends more in several


class Invalid(Exception):
    """Statements an LRS must refuse (400): ``errors`` maps each place to its messages."""

    def __init__(self, errors):
        self.errors = errors
        first = next(iter(errors.items()))
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        super().__init__(f"{first[0]}: {first[1][0]}{more}")


def version_problem(header):
    """Why a request's X-Experience-API-Version is not one this LRS speaks, or None."""
    if not header:
        return f"the {VERSION_HEADER} header is required (e.g. {VERSION})"
    if not _ACCEPTED_VERSION.match(header.strip()):
        return (f"{VERSION_HEADER} {header[:20]!r} is not supported: this LRS speaks "
                f"1.0.x (and 2.0.x)")
    return None


def is_uuid(value):
    return isinstance(value, str) and bool(_UUID.match(value))


def parse_timestamp(value):
    """An ISO 8601 time as the statement gives it; one without an offset is UTC."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def duration_hours(value):
    """Hours of an ISO 8601 duration (``PT24H``, ``P1DT2H30M``); a day counts 24 hours."""
    parts = _DURATION.match(value).groups()
    return sum(float(part.replace(",", ".")) * hours
               for part, hours in zip(parts, _HOURS_PER) if part)


def fingerprint(statement):
    """What makes two statements with one id "the same" (idempotency): their content, less
    what an LRS sets itself (stored, authority, version)."""
    kept = {k: v for k, v in statement.items() if k not in ("stored", "authority", "version")}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- the checks ------------------------------------------------------------------------------
class _Checker:
    """Walks one statement, collecting each problem under its place."""

    def __init__(self, errors, version):
        self.errors, self.version = errors, version

    def fail(self, where, message):
        self.errors.setdefault(where, []).append(message)
        return False

    def obj(self, value, where, allowed, required=()):
        """``value`` is an object with only ``allowed`` keys and every ``required`` one."""
        if not isinstance(value, dict):
            return self.fail(where, "must be an object")
        ok = True
        for key in sorted(set(value) - set(allowed)):
            ok = self.fail(f"{where}.{key}", "unknown property") and ok
        for key in required:
            if key not in value:
                ok = self.fail(f"{where}.{key}", "is required") and ok
        return ok

    def string(self, value, where, pattern=None, what="a string"):
        if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
            return self.fail(where, f"must be {what}")
        return True

    def iri(self, value, where):
        return self.string(value, where, _IRI, "an IRI (scheme:rest, no spaces)")

    def irl(self, value, where):
        return self.string(value, where, _IRL, "an http(s) URL")

    def boolean(self, value, where):
        return isinstance(value, bool) or self.fail(where, "must be true or false")

    def number(self, value, where):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return self.fail(where, "must be a number")
        return True

    def timestamp(self, value, where):
        if not self.string(value, where, _TIMESTAMP, "an ISO 8601 time"):
            return False
        if value.endswith(("-00:00", "-0000", "-00")):
            return self.fail(where, "must not use the offset -00:00")
        if self.version.startswith("2") and not re.search(r"(Z|[+-][0-9:]+)$", value):
            return self.fail(where, "must give its time zone (xAPI 2.0)")
        try:
            parse_timestamp(value)
        except ValueError:
            return self.fail(where, "must be an ISO 8601 time")
        return True

    def language_map(self, value, where):
        if not isinstance(value, dict):
            return self.fail(where, "must be a language map (an object)")
        ok = True
        for tag, text in value.items():
            if not _LANGUAGE.match(tag):
                ok = self.fail(f"{where}.{tag}", "is not an RFC 5646 language tag") and ok
            elif not isinstance(text, str):
                ok = self.fail(f"{where}.{tag}", "must be a string") and ok
        return ok

    def extensions(self, value, where):
        if not isinstance(value, dict):
            return self.fail(where, "must be an object")
        return all([self.iri(key, f"{where}[{key!r}]") for key in value])  # each one named

    # -- agents and groups ---------------------------------------------------------------
    def actor(self, value, where):
        if isinstance(value, dict) and value.get("objectType") == "Group":
            return self.group(value, where)
        return self.agent(value, where)

    def _ifis(self, value, where):
        ok = True
        if "mbox" in value:
            ok = self.string(value["mbox"], f"{where}.mbox", _MBOX, "a mailto: IRI") and ok
        if "mbox_sha1sum" in value:
            ok = self.string(value["mbox_sha1sum"], f"{where}.mbox_sha1sum", _SHA1,
                             "40 hexadecimal digits") and ok
        if "openid" in value:
            ok = self.string(value["openid"], f"{where}.openid", _IRI, "a URI") and ok
        if "account" in value:
            account = value["account"]
            if self.obj(account, f"{where}.account", {"homePage", "name"},
                        ("homePage", "name")):
                ok = self.irl(account["homePage"], f"{where}.account.homePage") and ok
                ok = self.string(account["name"], f"{where}.account.name") and ok
            else:
                ok = False
        if "name" in value:
            ok = self.string(value["name"], f"{where}.name") and ok
        return ok

    def agent(self, value, where):
        if not self.obj(value, where, AGENT_KEYS):
            return False
        if value.get("objectType", "Agent") != "Agent":
            return self.fail(f"{where}.objectType", "must be Agent or Group")
        found = [key for key in IFIS if key in value]
        if len(found) != 1:
            return self.fail(where, "an Agent needs exactly one of mbox, mbox_sha1sum, "
                                    f"openid, account (got {', '.join(found) or 'none'})")
        return self._ifis(value, where)

    def group(self, value, where):
        if not self.obj(value, where, GROUP_KEYS):
            return False
        found = [key for key in IFIS if key in value]
        ok = self._ifis(value, where)
        if len(found) > 1:
            ok = self.fail(where, "a Group has at most one of mbox, mbox_sha1sum, openid, "
                                  f"account (got {', '.join(found)})")
        members = value.get("member")
        if not found and not (isinstance(members, list) and members):
            return self.fail(f"{where}.member", "an anonymous Group lists its members")
        if members is not None:
            if not isinstance(members, list):
                return self.fail(f"{where}.member", "must be an array of Agents")
            for i, member in enumerate(members):
                ok = self.agent(member, f"{where}.member[{i}]") and ok
        return ok

    # -- verbs and objects ---------------------------------------------------------------
    def verb(self, value, where):
        if not self.obj(value, where, VERB_KEYS, ("id",)):
            return False
        ok = self.iri(value["id"], f"{where}.id")
        if "display" in value:
            ok = self.language_map(value["display"], f"{where}.display") and ok
        return ok

    def object(self, value, where, sub=False):
        if not isinstance(value, dict):
            return self.fail(where, "must be an object")
        kind = value.get("objectType", "Activity")
        if kind == "Activity":
            return self.activity(value, where)
        if kind == "Agent":
            return self.agent(value, where)
        if kind == "Group":
            return self.group(value, where)
        if kind == "StatementRef":
            return self.statement_ref(value, where)
        if kind == "SubStatement" and not sub:
            return self.substatement(value, where)
        if kind == "SubStatement":
            return self.fail(f"{where}.objectType", "a SubStatement cannot hold another")
        return self.fail(f"{where}.objectType", "must be Activity, Agent, Group, "
                                                "StatementRef or SubStatement")

    def statement_ref(self, value, where):
        if not self.obj(value, where, {"objectType", "id"}, ("objectType", "id")):
            return False
        return self.string(value["id"], f"{where}.id", _UUID, "a UUID")

    def activity(self, value, where):
        if not self.obj(value, where, ACTIVITY_KEYS, ("id",)):
            return False
        ok = self.iri(value["id"], f"{where}.id")
        if "definition" in value:
            ok = self.definition(value["definition"], f"{where}.definition") and ok
        return ok

    def definition(self, value, where):
        if not self.obj(value, where, DEFINITION_KEYS):
            return False
        ok = True
        for key in ("name", "description"):
            if key in value:
                ok = self.language_map(value[key], f"{where}.{key}") and ok
        if "type" in value:
            ok = self.iri(value["type"], f"{where}.type") and ok
        if "moreInfo" in value:
            ok = self.irl(value["moreInfo"], f"{where}.moreInfo") and ok
        if "extensions" in value:
            ok = self.extensions(value["extensions"], f"{where}.extensions") and ok
        if "interactionType" in value and value["interactionType"] not in INTERACTION_TYPES:
            ok = self.fail(f"{where}.interactionType", "is not an xAPI interaction type")
        if "correctResponsesPattern" in value and not (
                isinstance(value["correctResponsesPattern"], list)
                and all(isinstance(p, str) for p in value["correctResponsesPattern"])):
            ok = self.fail(f"{where}.correctResponsesPattern", "must be an array of strings")
        for key in ("choices", "scale", "source", "target", "steps"):
            if key not in value:
                continue
            if not isinstance(value[key], list):
                ok = self.fail(f"{where}.{key}", "must be an array of components")
                continue
            for i, component in enumerate(value[key]):
                place = f"{where}.{key}[{i}]"
                if self.obj(component, place, COMPONENT_KEYS, ("id",)):
                    ok = self.string(component["id"], f"{place}.id") and ok
                    if "description" in component:
                        ok = self.language_map(component["description"],
                                               f"{place}.description") and ok
                else:
                    ok = False
        return ok

    def substatement(self, value, where):
        if not self.obj(value, where, SUBSTATEMENT_KEYS, ("actor", "verb", "object")):
            return False
        return self.body(value, where, sub=True)

    # -- result, context, attachments ------------------------------------------------------
    def result(self, value, where):
        if not self.obj(value, where, RESULT_KEYS):
            return False
        ok = True
        for key in ("success", "completion"):
            if key in value:
                ok = self.boolean(value[key], f"{where}.{key}") and ok
        if "response" in value:
            ok = self.string(value["response"], f"{where}.response") and ok
        if "duration" in value:
            duration = value["duration"]
            if (not isinstance(duration, str) or not _DURATION.match(duration)
                    or duration in ("P", "PT") or duration.endswith("T")):
                ok = self.fail(f"{where}.duration", "must be an ISO 8601 duration (e.g. "
                                                    "PT2H30M)")
        if "extensions" in value:
            ok = self.extensions(value["extensions"], f"{where}.extensions") and ok
        if "score" in value:
            ok = self.score(value["score"], f"{where}.score") and ok
        return ok

    def score(self, value, where):
        if not self.obj(value, where, SCORE_KEYS):
            return False
        if not all([self.number(value[k], f"{where}.{k}")  # each one named
                    for k in SCORE_KEYS if k in value]):
            return False
        ok = True
        if "scaled" in value and not -1 <= value["scaled"] <= 1:
            ok = self.fail(f"{where}.scaled", "must be between -1 and 1")
        low, high, raw = value.get("min"), value.get("max"), value.get("raw")
        if low is not None and high is not None and low >= high:
            ok = self.fail(f"{where}.max", "must be greater than min")
        if raw is not None and low is not None and raw < low:
            ok = self.fail(f"{where}.raw", "must not be less than min")
        if raw is not None and high is not None and raw > high:
            ok = self.fail(f"{where}.raw", "must not be more than max")
        return ok

    def context(self, value, where, object_is_activity):
        allowed = CONTEXT_KEYS | (CONTEXT_KEYS_2_0 if self.version.startswith("2") else set())
        if not self.obj(value, where, allowed):
            return False
        ok = True
        if "registration" in value:
            ok = self.string(value["registration"], f"{where}.registration", _UUID,
                             "a UUID") and ok
        if "instructor" in value:
            ok = self.actor(value["instructor"], f"{where}.instructor") and ok
        if "team" in value:
            team = value["team"]
            if isinstance(team, dict) and team.get("objectType") == "Group":
                ok = self.group(team, f"{where}.team") and ok
            else:
                ok = self.fail(f"{where}.team", "must be a Group")
        for key in ("revision", "platform"):
            if key in value:
                ok = self.string(value[key], f"{where}.{key}") and ok
                if not object_is_activity:
                    ok = self.fail(f"{where}.{key}", "is only for a statement about an "
                                                     "Activity")
        if "language" in value:
            ok = self.string(value["language"], f"{where}.language", _LANGUAGE,
                             "an RFC 5646 language tag") and ok
        if "statement" in value:
            ok = self.statement_ref(value["statement"], f"{where}.statement") and ok
        if "extensions" in value:
            ok = self.extensions(value["extensions"], f"{where}.extensions") and ok
        if "contextActivities" in value:
            ok = self.context_activities(value["contextActivities"],
                                         f"{where}.contextActivities") and ok
        for key in CONTEXT_KEYS_2_0 & set(value):
            if not (isinstance(value[key], list)
                    and all(isinstance(item, dict) for item in value[key])):
                ok = self.fail(f"{where}.{key}", "must be an array of objects")
        return ok

    def context_activities(self, value, where):
        if not self.obj(value, where, CONTEXT_ACTIVITY_KEYS):
            return False
        ok = True
        for key, items in value.items():
            for i, item in enumerate(items if isinstance(items, list) else [items]):
                place = f"{where}.{key}[{i}]" if isinstance(items, list) else f"{where}.{key}"
                if isinstance(item, dict) and item.get("objectType", "Activity") != "Activity":
                    ok = self.fail(f"{place}.objectType", "must be Activity")
                else:
                    ok = self.activity(item, place) and ok
        return ok

    def attachments(self, value, where):
        if not isinstance(value, list):
            return self.fail(where, "must be an array")
        ok = True
        for i, item in enumerate(value):
            place = f"{where}[{i}]"
            if not self.obj(item, place, ATTACHMENT_KEYS,
                            ("usageType", "display", "contentType", "length", "sha2")):
                ok = False
                continue
            ok = self.iri(item["usageType"], f"{place}.usageType") and ok
            ok = self.language_map(item["display"], f"{place}.display") and ok
            ok = self.string(item["contentType"], f"{place}.contentType") and ok
            ok = self.string(item["sha2"], f"{place}.sha2") and ok
            if isinstance(item["length"], bool) or not isinstance(item["length"], int):
                ok = self.fail(f"{place}.length", "must be an integer")
            if "fileUrl" not in item:
                ok = self.fail(f"{place}.fileUrl", "attachments sent in the request "
                                                   "(multipart/mixed) are not accepted: "
                                                   "give a fileUrl")
            else:
                ok = self.irl(item["fileUrl"], f"{place}.fileUrl") and ok
        return ok

    # -- the statement --------------------------------------------------------------------
    def body(self, value, where, sub=False):
        """What a statement and a SubStatement share."""
        ok = self.actor(value["actor"], f"{where}.actor")
        ok = self.verb(value["verb"], f"{where}.verb") and ok
        ok = self.object(value["object"], f"{where}.object", sub=sub) and ok
        verb_id = value["verb"].get("id") if isinstance(value["verb"], dict) else None
        target = value["object"] if isinstance(value["object"], dict) else {}
        if verb_id == VOIDED and target.get("objectType") != "StatementRef":
            ok = self.fail(f"{where}.object", "a voiding statement's object must be the "
                                              "StatementRef of the statement it voids")
        if "result" in value:
            ok = self.result(value["result"], f"{where}.result") and ok
        if "context" in value:
            ok = self.context(value["context"], f"{where}.context",
                              target.get("objectType", "Activity") == "Activity") and ok
        if "timestamp" in value:
            ok = self.timestamp(value["timestamp"], f"{where}.timestamp") and ok
        if "attachments" in value:
            ok = self.attachments(value["attachments"], f"{where}.attachments") and ok
        return ok

    def statement(self, value, where):
        if not self.obj(value, where, STATEMENT_KEYS, ("actor", "verb", "object")):
            return False
        ok = self.body(value, where)
        if "id" in value:
            ok = self.string(value["id"], f"{where}.id", _UUID, "a UUID") and ok
        if "stored" in value:
            ok = self.timestamp(value["stored"], f"{where}.stored") and ok
        if "authority" in value:
            ok = self.actor(value["authority"], f"{where}.authority") and ok
        if "version" in value:
            ok = self.string(value["version"], f"{where}.version", _ACCEPTED_VERSION,
                             "an xAPI version this LRS speaks (1.0.x or 2.0.x)") and ok
        return ok and self._named_by_account(value["actor"], where)

    def _named_by_account(self, actor, where):
        """CDHT's rule: the learner is an Agent named by their account on the platform."""
        if actor.get("objectType", "Agent") != "Agent" or "account" not in actor:
            return self.fail(f"{where}.actor", "CDHT matches learners by their account on "
                                               "the platform: the actor must be an Agent "
                                               "with an account (not mbox, mbox_sha1sum, "
                                               "openid or a Group)")
        return True


def statements_of(body, version=VERSION):
    """The statements of a POST body (one statement or an array of them), each checked;
    ``Invalid`` (a 400, nothing written) when any is not, or when two share an id."""
    single = isinstance(body, dict)
    items = [body] if single else body
    if not isinstance(items, list) or not items:
        raise Invalid({"body": ["must be a statement or a non-empty array of statements"]})
    if len(items) > MAX_STATEMENTS:
        raise Invalid({"body": [f"at most {MAX_STATEMENTS} statements in one request"]})
    errors = {}
    checker = _Checker(errors, version)
    for i, statement in enumerate(items):
        checker.statement(statement, "statement" if single else f"statements[{i}]")
    if errors:
        raise Invalid(errors)
    seen = {}
    for i, statement in enumerate(items):
        if "id" in statement:
            key = statement["id"].lower()
            if key in seen:
                errors.setdefault(f"statements[{i}].id", []).append(
                    f"repeats the id of statements[{seen[key]}]")
            seen[key] = i
    if errors:
        raise Invalid(errors)
    return items


def with_id(statement):
    """The statement with its id (a new one when the platform gave none), lower-cased."""
    given = statement.get("id")
    return statement | {"id": given.lower() if given else str(uuid.uuid4())}


def voided_target(statement):
    """The id a voiding statement voids, or None for any other statement."""
    if statement["verb"]["id"] != VOIDED:
        return None
    return statement["object"]["id"].lower()
