"""Who sent an event, by the broker's word (cdht.identity)."""
from cdht.identity import broker_user, producer_user, refused_sender


def test_the_user_of_an_amqp_uri():
    assert broker_user("amqp://cdht-registry:pw@rabbitmq:5672/") == "cdht-registry"
    assert broker_user("amqp://a%40b:pw@host/vh") == "a@b"
    assert broker_user("amqp://rabbitmq:5672/") == "guest"


def test_each_service_its_own_user_is_derived_from_the_consumers_own():
    assert producer_user("cdht-notifications", "notifications", "assessment") == \
        "cdht-assessment"
    assert producer_user("guest", "notifications", "assessment") == "guest"


def test_with_users_of_their_own_only_the_producer_or_the_consumer_itself_is_taken():
    args = ("assessment", "assessment", "cdht-notifications", "notifications")
    assert refused_sender("cdht-assessment", *args) is None
    assert refused_sender("cdht-notifications", *args) is None  # its own retry or replay
    assert "cdht-reporting" in refused_sender("cdht-reporting", *args)
    assert refused_sender(None, *args)  # no user_id: not the broker's word


def test_the_envelope_must_name_the_exchange_it_came_by():
    assert "producer 'registry'" in refused_sender(
        "cdht-assessment", "assessment", "registry", "cdht-notifications", "notifications")


def test_one_shared_user_takes_that_user_or_none():
    args = ("assessment", "assessment", "guest", "notifications")
    assert refused_sender("guest", *args) is None
    assert refused_sender(None, *args) is None
    assert refused_sender("someone", *args)
