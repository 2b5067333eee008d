"""The proof of a title over HTTP: a title's verifiable credential and its certificate PDF
(the holder, or staff in scope), and the public side anyone may ask without a token: the
verification of a certificate's code (rate-limited per client address), the issuers'
profiles and public keys, and their signed status lists. Province staff rotate an issuer's
signing key.

Mixed into AssessmentService (service.py); not a module attribute there (``nameko run``
starts every class of the service's module that has entrypoints). The registry is asked with
WorkflowApi's ``_ask_registry`` (the same service class). What a credential says is
credentials.py's, how it is issued issuance.py's, the PDF certificate.py's.
"""
import logging
import math
import time
from contextlib import contextmanager
from datetime import timedelta, timezone

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from cdht.auth import EVERYONE, PROVINCE
from cdht.web import (
    ApiError, NotFound, api, attachment, caller_of, found, json_response, own_or_in_scope,
    require_scope,
)
from services.assessment import (
    approval, certificate, credentials, issuance, issuer_keys, throttle,
)
from services.assessment.schemas import (
    CredentialSchema, IssuerProfileSchema, JwksSchema, KeyRotationSchema, VerificationSchema,
)

log = logging.getLogger(__name__)
VIETNAM = timezone(timedelta(hours=7))  # the date a certificate prints is Vietnam's
CODE_MAX = 64  # longer than any code issued: looked up cut to this, answered the same


class ProofSettings(DependencyProvider):
    """What the proof of a title needs, read when the service starts: the key-encryption
    secret (CREDENTIAL_KEY_SECRET: the service refuses to start without a well-formed one),
    the public addresses written into credentials, the verification's rate limit and trusted
    proxies, and the certificate's font directory (a missing font is logged here and makes
    the PDF a 503, without stopping the rest of the service)."""

    def setup(self):
        config = self.container.config
        self.signing = issuance.Signing(
            issuer_keys.load_secrets(config.get(issuer_keys.SECRET_SETTING)),
            credentials.Urls.from_config(config))
        self.limit = throttle.PerAddress(float(config.get("VERIFY_RATE_PER_MINUTE") or 30),
                                         int(config.get("VERIFY_RATE_BURST") or 10))
        self.proxies = throttle.trusted_networks(config.get("VERIFY_TRUSTED_PROXIES"))
        self.font_dir = str(config.get("CERTIFICATE_FONT_DIR") or certificate.FONT_DIR)
        try:
            certificate.register_fonts(self.font_dir)
        except certificate.FontMissing as exc:
            log.warning("certificates cannot be drawn: %s", exc)

    def get_dependency(self, worker_ctx):
        return self


def _refused_issue(message_vi, message_en):
    return ApiError(409, f"{message_vi} ({message_en})")


@contextmanager
def _keys_readable():
    """A signing key CREDENTIAL_KEY_SECRET does not open (the secret was changed or lost) is
    the operator's to fix: a 503 naming it, and an error in the log."""
    try:
        yield
    except issuer_keys.UnreadableKey as exc:
        log.error("cannot sign: %s", exc)
        raise ApiError(503, "credentials cannot be signed now: the service's "
                            "CREDENTIAL_KEY_SECRET does not open the issuer's key") from None


class CredentialsApi:
    """The routes of /recognitions/<id>/credential and certificate.pdf, /verifications,
    /issuers and /status-lists."""
    proof = ProofSettings()

    # -- a title's credential and certificate ------------------------------------------------
    @api("GET", "/recognitions/<uuid:recognition_id>/credential",
         roles=EVERYONE,
         summary="A title's verifiable credential (issued on the first call)",
         response=CredentialSchema,
         errors=(409, 503),
         tag="proof")
    def get_credential(self, request, recognition_id):
        """The title's Open Badges 3.0 credential, as JSON and as a VC-JWT signed with the
        issuing association's key; issued on the first call (one per title, however many
        ask at once), the same one afterwards, with its status now (valid, revoked,
        superseded). The holder, or staff whose scope holds the title."""
        return self._with_credential(request, recognition_id, self._credential_view)

    @api("GET", "/recognitions/<uuid:recognition_id>/certificate.pdf",
         roles=EVERYONE,
         summary="A title's certificate (Giấy chứng nhận) as a PDF",
         media_type="application/pdf",
         errors=(409, 503),
         tag="proof")
    def get_certificate(self, request, recognition_id):
        """The certificate in Vietnamese, its QR code opening the public verification page
        (the credential is issued first if need be). A title no longer valid is marked so
        across the page."""
        def pdf(store, issued, recognition, status):
            issuer = store.issuer(issued.issuer_code)
            data = certificate.CertificateData(
                holder_name=issued.holder_name, year=issued.year,
                criteria_version=issued.criteria_version, issuer_name=issued.issuer_name,
                place=issuer.unit_name, province=issuer.province_name,
                granted_on=recognition.granted_at.astimezone(VIETNAM).date(),
                verify_url=self.proof.signing.urls.verification(issued.verification_code),
                code=issued.verification_code, status=status)
            try:
                body = certificate.render(data, self.proof.font_dir)
            except certificate.FontMissing as exc:
                raise ApiError(503, f"certificates cannot be drawn now: {exc}") from None
            return attachment(body, certificate.filename(issued.year), "application/pdf")
        return self._with_credential(request, recognition_id, pdf)

    def _with_credential(self, request, recognition_id, answer):
        """``answer(store, credential, recognition, status)`` for the title's credential,
        issued now if it has none (the names asked of the registry before the transaction
        that locks the title)."""
        with self.db.store() as store:
            recognition = found(store.recognition(recognition_id), "recognition")
            own_or_in_scope(request, recognition.person_id, recognition.unit_path,
                            "the title")
            issued = store.credentials.of_recognition(recognition_id)
            if issued is not None:
                return answer(store.credentials, issued, recognition,
                              issuance.status(store.credentials, issued, recognition))
            self._issuable(recognition)
            person_id, unit_path = str(recognition.person_id), list(recognition.unit_path)
        issuer_code = approval.deciding_units(unit_path, self.approval.level)[-1]
        holder = self._ask_registry("certificate_holder", person_id)
        profile = self._ask_registry("issuer_profile", issuer_code)
        if holder is None or profile is None:
            raise _refused_issue("hồ sơ của người giữ danh hiệu hoặc đơn vị cấp không còn "
                                 "trong sổ đăng ký", "the holder or the issuing unit is no "
                                 "longer in the registry")
        with self.db.store(write=True) as store, _keys_readable():
            recognition = found(store.recognition(recognition_id, lock=True), "recognition")
            if store.credentials.of_recognition(recognition_id) is None:
                self._issuable(recognition)
            issued = issuance.issue(
                store.credentials, self.proof.signing, recognition, issuer_code=issuer_code,
                issuer_path=unit_path[:unit_path.index(issuer_code) + 1],
                names={"name": profile["association_name"],
                       "unit_name": profile["unit_name"],
                       "province_name": profile["province_name"]},
                holder_name=holder["full_name"])
            return answer(store.credentials, issued, recognition,
                          issuance.status(store.credentials, issued, recognition))

    @staticmethod
    def _issuable(recognition):
        if recognition.revoked_at is not None:
            raise _refused_issue("danh hiệu đã bị thu hồi, không cấp chứng nhận",
                                 "the title is revoked: no credential is issued for it")

    def _credential_view(self, store, issued, recognition, status):
        return {"credential_id": f"urn:uuid:{issued.id}",
                "verification_code": issued.verification_code,
                "verify_url": self.proof.signing.urls.verification(issued.verification_code),
                "status": status,
                "issuer": {"unit_code": issued.issuer_code, "name": issued.issuer_name},
                "jwt": issued.jwt, "credential": issued.document}

    # -- public: verification, issuers, status lists -----------------------------------------
    @api("GET", "/verifications/<code>",
         public=True,
         summary="Verify a certificate's code (public, rate-limited)",
         response=VerificationSchema,
         errors=(429,),
         tag="proof")
    def verify_code(self, request, code):
        """Who holds the title, which title and year, who issued it, and whether it is valid,
        revoked or superseded: nothing more. An unknown code is a 404 like any other; past
        the rate limit of the client's address, a 429 with Retry-After."""
        client = throttle.client_address(request.remote_addr,
                                         request.headers.get("X-Forwarded-For"),
                                         self.proof.proxies)
        wait = self.proof.limit.take(client, time.monotonic())
        if wait:
            return json_response({"error": "quá nhiều yêu cầu xác minh, xin thử lại sau "
                                           "(too many verifications: try again later)"},
                                 429, headers={"Retry-After": str(math.ceil(wait))})
        with self.db.store() as store:
            issued = store.credentials.by_code(str(code)[:CODE_MAX])
            if issued is None:
                raise NotFound("verification code")
            status = issuance.status(store.credentials, issued,
                                     store.recognition(issued.recognition_id))
            shown = credentials.verification(issued.holder_name, issued.year,
                                             issued.issuer_name, status)
        return json_response(shown, headers={"Cache-Control": "no-store"})

    @api("GET", "/issuers/<unit_code>",
         public=True,
         summary="An issuing association's Open Badges profile",
         response=IssuerProfileSchema,
         tag="proof")
    def get_issuer(self, request, unit_code):
        with self.db.store() as store:
            row = found(store.credentials.issuer(unit_code), "issuer")
            return credentials.profile(self.proof.signing.urls, issuance.issuer_of(row))

    @api("GET", "/issuers/<unit_code>/jwks",
         public=True,
         summary="An issuer's public keys (JWKS), retired ones included",
         response=JwksSchema,
         tag="proof")
    def get_issuer_keys(self, request, unit_code):
        """Every key the issuer ever signed with (OKP, Ed25519), the retired ones marked:
        credentials signed before a rotation still verify."""
        with self.db.store() as store:
            found(store.credentials.issuer(unit_code), "issuer")
            return issuance.jwks(store.credentials, self.proof.signing, unit_code)

    @api("GET", "/status-lists/<unit_code>/<int:list_no>",
         public=True,
         summary="An issuer's revocation list (BitstringStatusListCredential, VC-JWT)",
         media_type=credentials.JWT_MEDIA_TYPE,
         errors=(503,),
         tag="proof")
    def get_status_list(self, request, unit_code, list_no):
        """Signed now with the issuer's key; a set bit is a revoked (or superseded) title."""
        with self.db.store() as store, _keys_readable():
            token = found(issuance.status_list(store.credentials, self.proof.signing,
                                               unit_code, list_no), "status list")
        return Response(token, mimetype=credentials.JWT_MEDIA_TYPE,
                        headers={"Cache-Control": "no-cache"})

    @api("POST", "/issuers/<unit_code>/keys",
         roles=PROVINCE,
         summary="Rotate an issuer's signing key",
         response=KeyRotationSchema,
         status=201,
         tag="proof")
    def rotate_issuer_key(self, request, unit_code):
        """A new signing key for the issuer; the one it replaces is retired (still published,
        so what it signed still verifies; it signs nothing new). Rotate on a schedule, when
        people who could reach the key leave, and at once if it may have leaked."""
        urls = self.proof.signing.urls
        with self.db.store(write=True) as store:
            row = found(store.credentials.issuer(unit_code, lock=True), "issuer")
            require_scope(request, row.unit_path, f"the issuer {unit_code}")
            retired, key = issuance.rotate(store.credentials, self.proof.signing, unit_code)
            answer = {"key": issuer_keys.jwk(key.public_key, urls.kid(unit_code, key.key_id)),
                      "retired_kid": retired and urls.kid(unit_code, retired.key_id)}
        log.info("issuer key rotated", extra={
            "unit_code": unit_code, "kid": answer["key"]["kid"],
            "retired_kid": answer["retired_kid"], "by": caller_of(request).subject})
        return 201, answer
