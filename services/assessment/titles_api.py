"""Titles over HTTP: the Learning Citizen titles (read, list, revoke) and the group titles of
families, clans, communities and learning units (list).

Mixed into AssessmentService (service.py); not a module attribute there (``nameko run``
starts every class of the service's module that has entrypoints).
"""
from cdht.auth import EVERYONE, REVIEWERS, STAFF
from cdht.openapi import page_of
from cdht.web import api, found, load_json, own_or_in_scope, require_scope
from services.assessment import decisions
from services.assessment.api_support import (
    actor, group_view, list_page, recognition_view, workflow_errors,
)
from services.assessment.schemas import (
    AssessmentQuerySchema, GroupRecognitionQuerySchema, GroupRecognitionViewSchema,
    RecognitionViewSchema, RevocationSchema,
)


class TitlesApi:
    """The routes of /recognitions and /group-recognitions."""

    @api("GET", "/recognitions",
         roles=EVERYONE,
         summary="List titles",
         query=AssessmentQuerySchema,
         response=page_of(RecognitionViewSchema),
         tag="titles")
    def list_recognitions(self, request):
        return list_page(self.db, request, "recognitions", AssessmentQuerySchema,
                         ("year", "person_id", "unit_code"), recognition_view)

    @api("GET", "/recognitions/<uuid:recognition_id>",
         roles=EVERYONE,
         summary="Read a title",
         response=RecognitionViewSchema,
         tag="titles")
    def get_recognition(self, request, recognition_id):
        with self.db.store() as store:
            recognition = found(store.recognition(recognition_id), "recognition")
            own_or_in_scope(request, recognition.person_id, recognition.unit_path,
                            "the title")
            return recognition_view(recognition)

    @api("POST", "/recognitions/<uuid:recognition_id>/revoke",
         roles=STAFF,
         summary="Revoke a title with a reason",
         body=RevocationSchema,
         response=RecognitionViewSchema,
         errors=(409,),
         tag="titles")
    def revoke(self, request, recognition_id):
        data = load_json(request, RevocationSchema())
        with self.db.store(write=True) as store:
            recognition = found(store.recognition(recognition_id, lock=True), "recognition")
            require_scope(request, recognition.unit_path, "the title")
            data["revoked_by"] = actor(request, data["revoked_by"], "revoked_by")
            with workflow_errors():
                decisions.revoke(store, self.criteria, recognition, data["reason"],
                                 data["revoked_by"])
        return recognition_view(recognition)

    @api("GET", "/group-recognitions",
         roles=REVIEWERS,
         summary="List group titles (families, clans, communities, "
                 "learning units)",
         query=GroupRecognitionQuerySchema,
         response=page_of(GroupRecognitionViewSchema),
         tag="titles")
    def list_group_recognitions(self, request):
        return list_page(self.db, request, "group_recognitions", GroupRecognitionQuerySchema,
                         ("year", "group_id", "group_kind", "unit_code"), group_view)
