"""Payloads of the registry's HTTP API and RPC."""
from marshmallow import Schema, fields, validate

from cdht.contracts.events import ROLES, TARGET_GROUPS

UNIT_KINDS = ("province", "district", "commune", "ward", "special_zone")
GENDERS = ("male", "female", "other")


class UnitSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9._-]{1,64}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(UNIT_KINDS))
    parent_code = fields.String(load_default=None, allow_none=True)
    valid_from = fields.Date(load_default=None, allow_none=True)
    valid_to = fields.Date(load_default=None, allow_none=True)


class NewPersonSchema(Schema):
    national_id = fields.String(required=True, load_only=True)
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    gender = fields.String(required=True, validate=validate.OneOf(GENDERS))
    birth_date = fields.Date(required=True)
    ethnicity = fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(max=50))
    phone = fields.String(load_default=None, allow_none=True,
                          validate=validate.Regexp(r"^\+?[0-9]{9,15}$"))
    email = fields.Email(load_default=None, allow_none=True)
    language = fields.String(load_default="vi", validate=validate.OneOf(("vi", "en")))
    unit_code = fields.String(required=True)
    target_group = fields.String(required=True, validate=validate.OneOf(TARGET_GROUPS))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), load_default=list)


class PersonSchema(NewPersonSchema):
    """A person as the API shows it: the national ID only masked."""
    id = fields.UUID()
    national_id_masked = fields.Method("_mask")
    created_at = fields.DateTime()

    def _mask(self, person):
        return "*" * 8 + person.national_id[-4:]
