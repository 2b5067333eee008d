"""Learning records in, as xAPI statements (a mixin of RegistryService): the LRS endpoints a
learning platform posts to, and the platform accounts staff link to people.

    GET  /xapi/about                         the versions this LRS speaks (no token)
    POST /xapi/statements                    one statement or an array: 200, their ids
    PUT  /xapi/statements?statementId=       one statement with its id: 204
    GET  /xapi/statements?statementId=       one stored statement (voidedStatementId= once
                                             voided), as stored, with stored and authority
    POST /learning-accounts                  link a platform account to a person
    GET  /learning-accounts?person_id=       a person's linked accounts
    DELETE /learning-accounts/<id>           unlink
    GET  /learning-accounts/unlinked         accounts whose statements wait for a link

The statements are checked by xapi.py (a batch with one bad statement is refused whole: 400,
nothing written); what they count for is xapi_rules.py's (xapi.yaml). A counted statement of a
linked account makes a LearningActivity announced as learning_activity_recorded, exactly as
one typed in (activities.py); a voided one withdraws it (learning_activity_withdrawn). The
statements of an account linked to no one are kept, and counted when staff link it, in the
same transaction as the link.
"""
import uuid

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from cdht.auth import LEARNING_PLATFORM, PROVINCE, STAFF
from cdht.openapi import ListOf, page_of
from cdht.web import (
    UNPROCESSABLE, ApiError, Forbidden, JsonHttpHandler, NotFound, api, caller_of,
    json_body, json_response, load_json, query_of,
)
from services.registry import activities, xapi, xapi_rules
from services.registry.handlers import live, now, person_in_scope, rules
from services.registry.models import LearningActivity, Person, XapiAccount, XapiStatement
from services.registry.xapi_schemas import (
    VERSION_PARAMETER, LinkedSchema, NewXapiAccountSchema, StatementIdQuerySchema,
    StatementQuerySchema, UnlinkedAccountSchema, UnlinkedQuery, XapiAboutSchema,
    XapiAccountQuery, XapiAccountSchema, XapiStatementSchema,
)

LRS_ERRORS = (400, 403, 409, 413, 415)


class XapiRules(DependencyProvider):
    """The rules of XAPI_RULES (default services/registry/xapi.yaml), checked when the
    service starts: a bad file stops it with every problem named."""

    def setup(self):
        self.rules = xapi_rules.load_rules(self.container.config.get("XAPI_RULES") or None)

    def get_dependency(self, worker_ctx):
        return self.rules


class LrsHandler(JsonHttpHandler):
    """An LRS route: every answer says the xAPI version (X-Experience-API-Version), and every
    request but the public ones must say a version this LRS speaks (else a 400)."""

    def _respond(self, request, corr):
        if not self.route.public:
            problem = xapi.version_problem(request.headers.get(xapi.VERSION_HEADER))
            if problem:
                return json_response({"error": problem}, 400)
        return super()._respond(request, corr)

    def handle_request(self, request):
        response = super().handle_request(request)
        response.headers[xapi.VERSION_HEADER] = xapi.VERSION
        return response


lrs = LrsHandler.decorator


def _documented(query=None, body=False):
    """The header (and query and body) an LRS route's document lists."""
    extra = {"parameters": [dict(VERSION_PARAMETER)] + (
        [{"in": "query", "schema": query}] if query else [])}
    if body:
        extra["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
            "oneOf": [XapiStatementSchema, {"type": "array", "items": XapiStatementSchema}]}}}}
    return extra


def _checked(body, request):
    """The statements, each with its id; 400 naming every problem."""
    try:
        statements = xapi.statements_of(body, request.headers.get(xapi.VERSION_HEADER))
    except xapi.Invalid as exc:
        raise ApiError(400, f"invalid statement: {exc}", exc.errors) from None
    return [xapi.with_id(s) for s in statements]


def _refused(where, message, status=400):
    raise ApiError(status, f"{where}: {message}", {where: [message]})


# -- what a statement makes ------------------------------------------------------------------
def _count(store, rules_, row, person):
    """A statement of a linked account: a learning activity (staged as recorded), or the
    reason it does not count."""
    row.person_id = person.id
    if person.deleted_at is not None:
        row.status, row.reason = "not_counted", "the linked person was removed"
        return
    platform = rules_.platform(row.platform) or xapi_rules.Platform(
        row.platform, row.platform, (row.home_page,))
    outcome = rules_.assess(row.statement, platform, row.stored_at)
    if isinstance(outcome, xapi_rules.NotCounted):
        row.status, row.reason = "not_counted", outcome.reason
        return
    activity = LearningActivity(id=uuid.uuid4(), person_id=person.id, **vars(outcome))
    store.add(activity)
    store.flush()
    activities.stage_recorded(store, activity, person)
    row.status, row.activity_id = "counted", activity.id


def _void(store, target, voiding_id):
    """The statement ``target`` is voided: the activity it made is withdrawn."""
    if target.voided_by is not None:
        return
    target.voided_by = voiding_id
    if target.activity_id is not None:
        activity = store.row(LearningActivity, target.activity_id, lock="update")
        if activity.deleted_at is None:
            activities.withdraw(store, activity, "voided")


def _shown(row, rules_):
    """A stored statement as the LRS answers it: with stored, authority and version."""
    platform = rules_.platform(row.platform) or xapi_rules.Platform(
        row.platform, row.platform, (row.home_page,))
    stored = row.stored_at.isoformat()
    return row.statement | {"stored": stored, "authority": platform.authority(),
                            "timestamp": row.statement.get("timestamp", stored),
                            "version": row.statement.get("version", "1.0.0")}


class XapiEndpoints:
    lrs_rules = XapiRules()

    @lrs("GET", "/xapi/about", public=True, response=XapiAboutSchema, tag="xapi",
         summary="The xAPI versions this LRS speaks")
    def xapi_about(self, request):
        return {"version": list(xapi.VERSIONS), "extensions": {}}

    @lrs("POST", "/xapi/statements", roles=LEARNING_PLATFORM, tag="xapi",
         summary="Store xAPI statements (one, or an array): their ids",
         response=ListOf({"type": "string", "format": "uuid"}), errors=LRS_ERRORS,
         extra=_documented(body=True))
    def post_statements(self, request):
        """A batch is taken whole or not at all: one bad statement is a 400 naming it, and
        nothing is written. The same id with the same content again is a no-op; with other
        content a 409."""
        platform = self._platform(request)
        statements = _checked(json_body(request), request)
        self._save(platform, statements)
        return [s["id"] for s in statements]

    @lrs("PUT", "/xapi/statements", roles=LEARNING_PLATFORM, tag="xapi",
         summary="Store one xAPI statement with its id", status=204, errors=LRS_ERRORS,
         extra=_documented(query=StatementIdQuerySchema, body=True))
    def put_statement(self, request):
        platform = self._platform(request)
        query = query_of(request, StatementIdQuerySchema())
        body = json_body(request)
        if not isinstance(body, dict):
            _refused("body", "a PUT carries one statement")
        given = str(query["statementId"])
        if "id" in body and str(body["id"]).lower() != given:
            _refused("statement.id", "differs from the statementId of the query")
        [statement] = _checked(body | {"id": given}, request)
        self._save(platform, [statement])
        return Response(status=204)

    @lrs("GET", "/xapi/statements", roles=PROVINCE + LEARNING_PLATFORM, tag="xapi",
         summary="One stored xAPI statement, by statementId or voidedStatementId",
         response=XapiStatementSchema, errors=(400, 404), extra=_documented(StatementQuerySchema))
    def get_statement(self, request):
        """The posting platform reads its own statements; province staff those of people in
        their province and those of accounts linked to no one yet. A voided statement is
        found by voidedStatementId only, any other by statementId only."""
        query = query_of(request, StatementQuerySchema())
        asked = [k for k in ("statementId", "voidedStatementId") if k in query]
        if len(asked) != 1:
            _refused("statementId", "give statementId or voidedStatementId (one of them): "
                                    "the rest of the query API is not implemented")
        wanted = query[asked[0]]
        caller = caller_of(request)
        with self.store.read() as store:
            row = store.xapi_statements([wanted]).get(wanted)
            voided = row is not None and row.voided_by is not None
            if row is None or voided != (asked[0] == "voidedStatementId"):
                raise NotFound("statement")
            if caller.is_platform:
                if row.platform != caller.subject:
                    raise NotFound("statement")
            elif row.person_id is not None:
                person_in_scope(request, store, store.row(Person, row.person_id))
            return _shown(row, self.lrs_rules)

    # -- accounts --------------------------------------------------------------------------
    @api("POST", "/learning-accounts", roles=STAFF, tag="xapi", status=201,
         summary="Link a learning platform's account to a person (its waiting statements "
                 "count now)", body=NewXapiAccountSchema, response=LinkedSchema, errors=(409,))
    def link_account(self, request):
        """The home page must be one a platform of xapi.yaml declares; the person in the
        caller's scope. The account's statements that waited for this link are counted (or
        not) in the same transaction."""
        data = load_json(request, NewXapiAccountSchema())
        home_page = self.lrs_rules.known_home_page(data["home_page"])
        if home_page is None:
            raise ApiError(UNPROCESSABLE, "invalid input", {"home_page": [
                "no learning platform of xapi.yaml has this home page"]})
        caller = caller_of(request)
        with rules(), self.store.transaction() as store:
            person = live(store, Person, data["person_id"], "person_id", "person",
                          lock="share")
            person_in_scope(request, store, person)
            store.lock_account(home_page, data["name"])
            if store.xapi_account(home_page, data["name"]) is not None:
                raise ApiError(409, "invalid input", {"name": [
                    "this account is already linked to a person"]})
            link = XapiAccount(id=uuid.uuid4(), home_page=home_page,
                               account_name=data["name"], person_id=person.id,
                               created_by=caller.subject[:200], created_at=now())
            store.add(link)
            waiting = store.pending_statements(home_page, data["name"])
            for row in waiting:
                _count(store, self.lrs_rules, row, person)
            counted = sum(row.status == "counted" for row in waiting)
            return 201, _account(link) | {"counted": counted,
                                          "not_counted": len(waiting) - counted}

    @api("GET", "/learning-accounts", roles=STAFF, tag="xapi", query=XapiAccountQuery,
         response=page_of(XapiAccountSchema), summary="A person's linked platform accounts")
    def list_accounts(self, request):
        query = query_of(request, XapiAccountQuery())
        with self.store.read() as store:
            person = live(store, Person, query["person_id"], "person_id", "person")
            person_in_scope(request, store, person)
            items, page = store.list_xapi_accounts(query)
            return page | {"items": [_account(link) for link in items]}

    @api("DELETE", "/learning-accounts/<uuid:link_id>", roles=STAFF, tag="xapi",
         response=XapiAccountSchema, summary="Unlink a platform account (what it counted "
                                              "stays; its next statements wait again)")
    def unlink_account(self, request, link_id):
        with self.store.transaction() as store:
            link = store.row(XapiAccount, link_id, lock="update")
            if link is None or link.deleted_at is not None:
                raise NotFound("linked account")
            person_in_scope(request, store, store.row(Person, link.person_id))
            link.deleted_at = now()
            return _account(link)

    @api("GET", "/learning-accounts/unlinked", roles=PROVINCE, tag="xapi",
         query=UnlinkedQuery, response=page_of(UnlinkedAccountSchema),
         summary="Platform accounts whose statements wait for a link to a person")
    def list_unlinked(self, request):
        """An account belongs to no unit until it is linked: province staff see them all."""
        query = query_of(request, UnlinkedQuery())
        with self.store.read() as store:
            items, page = store.unlinked_accounts(query)
        return page | {"items": UnlinkedAccountSchema(many=True).dump(items)}

    # -- storing -----------------------------------------------------------------------------
    def _platform(self, request):
        """The declared platform whose token this is; 403 for any other caller."""
        caller = caller_of(request)
        platform = self.lrs_rules.platform(caller.subject) if caller.is_platform else None
        if platform is None:
            raise Forbidden("statements are posted with the token of a learning platform "
                            "declared in xapi.yaml (its id as the token's subject)")
        return platform

    def _save(self, platform, statements):
        """Store a checked batch, all or nothing: 403 for an account outside the platform's
        home pages, 409 for an id stored with other content, 400 for a voiding statement
        that targets one; then count, void and keep waiting what each says."""
        for i, statement in enumerate(statements):
            home = statement["actor"]["account"]["homePage"]
            if not self.lrs_rules.declares(platform, home):
                where = f"statements[{i}].actor.account.homePage"
                message = f"not a home page of the platform {platform.id}"
                raise ApiError(403, f"{where}: {home[:200]!r} is {message}",
                               {where: [message]})
        ids = [uuid.UUID(s["id"]) for s in statements]
        targets = {t: uuid.UUID(s["id"]) for s in statements
                   if (t := xapi.voided_target(s)) is not None}
        with rules(), self.store.transaction() as store:
            accounts = sorted({(xapi_rules.normal_home_page(s["actor"]["account"]["homePage"]),
                                s["actor"]["account"]["name"]) for s in statements})
            for home, name in accounts:
                store.lock_account(home, name)
            known = store.xapi_statements(set(ids) | {uuid.UUID(t) for t in targets},
                                          lock=True)
            fresh = [s for sid, s in zip(ids, statements)
                     if not self._stored_already(known.get(sid), platform, s)]
            self._check_voiding(store, platform, fresh, known)
            stamp = now()
            rows = []
            for statement in fresh:
                rows.append(self._stored(store, platform, statement, stamp,
                                         targets.get(statement["id"])))
            store.flush()
            for row in rows:
                target = known.get(row.voids) if row.voids else None
                if target is not None:
                    _void(store, target, row.id)

    @staticmethod
    def _stored_already(row, platform, statement):
        """Whether the statement is stored as it is (a no-op); 409 when its id holds another."""
        if row is None:
            return False
        if row.platform != platform.id or row.fingerprint != xapi.fingerprint(statement):
            raise ApiError(409, f"statement {row.id} is already stored with other content",
                           {"statementId": ["already stored with other content"]})
        return True

    @staticmethod
    def _check_voiding(store, platform, fresh, known):
        new = {s["id"]: s for s in fresh}
        for statement in fresh:
            target = xapi.voided_target(statement)
            if store.voiding_of(uuid.UUID(statement["id"]), platform.id) is not None and (
                    target is not None):
                _refused("statement", f"{statement['id']} is a voiding statement, which "
                                      "cannot be voided")
            if target is None:
                continue
            stored = known.get(uuid.UUID(target))
            if (stored is not None and stored.status == "voiding") or (
                    target in new and xapi.voided_target(new[target]) is not None):
                _refused("object.id", f"{target} is a voiding statement: a voiding statement "
                                      "cannot be voided")
            if stored is not None and stored.platform != platform.id:
                raise Forbidden(f"statement {target} was posted by another platform")

    def _stored(self, store, platform, statement, stamp, voided_by):
        """The row of a new statement, with what it makes: a void, a wait, a count."""
        account = statement["actor"]["account"]
        sid = uuid.UUID(statement["id"])
        target = xapi.voided_target(statement)
        row = XapiStatement(id=sid, platform=platform.id, statement=statement,
                            fingerprint=xapi.fingerprint(statement),
                            home_page=xapi_rules.normal_home_page(account["homePage"]),
                            account_name=account["name"], stored_at=stamp, status="pending",
                            voids=uuid.UUID(target) if target else None)
        store.add(row)
        if target is not None:
            row.status = "voiding"
            return row
        voided_by = voided_by or store.voiding_of(sid, platform.id)
        if voided_by is not None:  # its voiding statement came first: it never counts
            row.status, row.voided_by = "not_counted", voided_by
            row.reason = "voided before it was counted"
            return row
        link = store.xapi_account(row.home_page, row.account_name)
        if link is not None:
            _count(store, self.lrs_rules, row, store.row(Person, link.person_id,
                                                          lock="share"))
        return row


def _account(link):
    return {"id": link.id, "person_id": link.person_id, "home_page": link.home_page,
            "name": link.account_name, "created_by": link.created_by,
            "created_at": link.created_at}

