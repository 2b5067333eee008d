"""What the OpenAPI document shows of the xAPI routes (xapi_api.py). A statement's body is
checked by xapi.py, as the LRS specification says, not by these schemas: they describe it."""
from marshmallow import Schema, fields, validate

from cdht.openapi import PageQuery
from services.registry import xapi

_URL = fields.String(required=True, validate=validate.Length(min=1, max=1000),
                     metadata={"format": "uri",
                               "description": "an account's homePage on a declared platform"})


class XapiAboutSchema(Schema):
    version = fields.List(fields.String(), required=True,
                          metadata={"description": "the xAPI versions this LRS speaks"})
    extensions = fields.Dict(required=True)


class XapiVerbSchema(Schema):
    id = fields.String(required=True, metadata={"description": "the verb's IRI"})
    display = fields.Dict(keys=fields.String(), values=fields.String(),
                          metadata={"description": "a language map"})


class XapiStatementSchema(Schema):
    """An xAPI statement (1.0.3). The actor is an Agent named by its ``account`` on the
    posting platform; every rule of the specification is checked (a 400 names the place)."""
    id = fields.UUID(metadata={"description": "made by the LRS when left out"})
    actor = fields.Dict(required=True, metadata={
        "description": "an Agent: {objectType: Agent, name, account: {homePage, name}}"})
    verb = fields.Nested(XapiVerbSchema, required=True)
    object = fields.Dict(required=True, metadata={
        "description": "an Activity {id, definition: {type, name, extensions}}, or a "
                       "StatementRef for a voiding statement"})
    result = fields.Dict(metadata={"description": "score, success, completion, duration"})
    context = fields.Dict()
    timestamp = fields.String(metadata={"description": "ISO 8601, when it happened"})
    stored = fields.String(metadata={"description": "set by the LRS"})
    authority = fields.Dict(metadata={"description": "set by the LRS: the posting platform"})
    version = fields.String()
    attachments = fields.List(fields.Dict())


class StatementQuerySchema(Schema):
    """One statement by its id (``statementId``) or, once voided, by ``voidedStatementId``;
    the rest of the query API (filters, ``more``) is not implemented."""
    statementId = fields.UUID()
    voidedStatementId = fields.UUID()
    format = fields.String(validate=validate.OneOf(("ids", "exact", "canonical")))
    attachments = fields.Boolean()


class StatementIdQuerySchema(Schema):
    statementId = fields.UUID(required=True)


class NewXapiAccountSchema(Schema):
    person_id = fields.UUID(required=True)
    home_page = _URL
    name = fields.String(required=True, validate=validate.Length(min=1, max=1000),
                         metadata={"description": "the account's name on the platform"})


class XapiAccountSchema(NewXapiAccountSchema):
    id = fields.UUID(required=True)
    created_by = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class LinkedSchema(XapiAccountSchema):
    counted = fields.Integer(required=True, metadata={
        "description": "statements waiting for this account that made an activity now"})
    not_counted = fields.Integer(required=True, metadata={
        "description": "statements waiting for this account that count for nothing"})


class XapiAccountQuery(PageQuery):
    person_id = fields.UUID(required=True)


class UnlinkedQuery(PageQuery):
    platform = fields.String(validate=validate.Length(min=1, max=64))


class UnlinkedAccountSchema(Schema):
    home_page = fields.String(required=True)
    account_name = fields.String(required=True)
    platform = fields.String(required=True)
    statements = fields.Integer(required=True)
    first_stored = fields.DateTime(required=True)
    last_stored = fields.DateTime(required=True)


VERSION_PARAMETER = {
    "in": "header", "name": xapi.VERSION_HEADER, "required": True,
    "schema": {"type": "string", "enum": list(xapi.HEADER_VERSIONS)},
    "description": "the xAPI version the client speaks; answered with the LRS's"}
