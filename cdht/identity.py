"""Who published an event, by the broker's word rather than the envelope's.

An envelope's ``producer`` is written by whoever publishes it. The AMQP ``user_id`` property
is not: RabbitMQ refuses a message whose ``user_id`` is not the user of the connection that
published it. So every CDHT publisher sets ``user_id`` to its own broker user, and a consumer
takes an event only when that user is the one its producer publishes as.

Each service has its own broker user, named ``<prefix><service>`` (``cdht-registry``,
``cdht-assessment``, ...; ``cdht provision`` creates them), so the user a producer publishes
as is derived from the consumer's own user. Where every service shares one user (local
development, most tests), the broker cannot tell the services apart: an event is then
taken from that user, or with no ``user_id`` at all (what a test or a tool publishes).
"""
from urllib.parse import unquote, urlsplit


def broker_user(amqp_uri):
    """The user name in an AMQP URI (``guest`` when it names none, as the client assumes)."""
    return unquote(urlsplit(str(amqp_uri)).username or "guest")


def own_users(own_user, own_service):
    """Whether this service has a broker user of its own (``<prefix><service>``)."""
    return own_user.endswith(own_service)


def producer_user(own_user, own_service, producer):
    """The broker user ``producer`` publishes as, seen from ``own_service`` connected as
    ``own_user``: ``<prefix><producer>`` when this service's user is ``<prefix><own_service>``,
    else the one shared user."""
    if own_users(own_user, own_service):
        return own_user[:-len(own_service)] + producer
    return own_user


def refused_sender(user_id, source, producer, own_user, own_service):
    """Why an event that arrived on ``source``'s exchange must not be trusted, or None.

    Taken: the producer's own user, and this service's own user (its retries and replays,
    which it republished itself)."""
    if producer != source:
        return f"producer {producer!r} on the exchange of {source!r}"
    expected = producer_user(own_user, own_service, source)
    taken = {expected, own_user} if own_users(own_user, own_service) else {own_user, None}
    if user_id not in taken:
        return (f"published by broker user {user_id!r}, not by {expected!r} "
                f"(the user of {source})")
    return None
